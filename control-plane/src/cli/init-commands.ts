import { readFileSync } from "node:fs";
import { setUpOpenBao } from "../../../lib/src/runtime/components/openbao.js";
import { usageError } from "./cli-error.js";
import type { CommandSpec } from "./command.js";
import { integer, requiredText, stringFlags, text } from "./flags.js";

/**
 * `warden init openbao`: the OpenBao set-up `warden up` performs, against an OpenBao that runs
 * elsewhere (the compose stack's openbao-init job, or an operator's own server). Idempotent.
 */
const openbao: CommandSpec = {
  usage:
    "--address https://host:8200 --ca-file pem --init-file path --client-ca pem --control-plane-token-file path [--trust-domain warden.local] [--policies dir] [--control-plane-uid n] [--wait-seconds 120]",
  options: stringFlags(
    "address",
    "ca-file",
    "init-file",
    "client-ca",
    "control-plane-token-file",
    "trust-domain",
    "policies",
    "control-plane-uid",
    "wait-seconds",
  ),
  async run(ctx) {
    if (ctx.positionals.length) throw usageError(`unexpected argument ${ctx.positionals[0]}`);
    const address = requiredText(ctx.values, "address");
    if (!/^https:\/\/[^/]+$/.test(address)) throw usageError("--address must be https://host:port");
    const trustDomain = text(ctx.values, "trust-domain") ?? "warden.local";
    if (!/^[a-z0-9._-]+$/.test(trustDomain))
      throw usageError("--trust-domain must be a SPIFFE trust domain name");
    const clientCaFile = requiredText(ctx.values, "client-ca");
    let clientCaPem: string;
    try {
      clientCaPem = readFileSync(clientCaFile, "utf8");
    } catch (error) {
      throw usageError(
        `--client-ca ${clientCaFile}: ${(error as NodeJS.ErrnoException).code ?? "unreadable"}`,
      );
    }
    const waitSeconds = integer(ctx.values, "wait-seconds") ?? 120;
    if (waitSeconds < 1) throw usageError("--wait-seconds must be at least 1");
    await setUpOpenBao({
      files: {
        address,
        caFile: requiredText(ctx.values, "ca-file"),
        initFile: requiredText(ctx.values, "init-file"),
        controlPlaneTokenFile: requiredText(ctx.values, "control-plane-token-file"),
      },
      trustDomain,
      clientCaPem,
      policyDir: text(ctx.values, "policies"),
      controlPlaneUid: integer(ctx.values, "control-plane-uid"),
      waitMs: waitSeconds * 1_000,
    });
    ctx.io.stdout(
      `OpenBao at ${address} initialised, unsealed and configured (transit, KV warden/, policies, cert auth for spiffe://${trustDomain}/warden/extproc, control-plane token)`,
    );
  },
};

export const initCommands: Record<string, CommandSpec> = { openbao };
