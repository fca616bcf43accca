import { nodeAliasSpiffeId } from "../../../lib/src/spiffe/naming.js";
import { SpireRegistrar, validateSelector } from "../../../lib/src/spiffe/registration.js";
import { BaoClient, openBaoFiles, readRootToken } from "../../../lib/src/runtime/components/openbao.js";
import { spirePaths } from "../../../lib/src/runtime/components/spire.js";
import { homePaths, loadRuntimeConfig, toolPath } from "../../../lib/src/runtime/layout.js";
import { readSupervisorState, type SupervisorState } from "../../../lib/src/runtime/state.js";
import { CliError, usageError } from "./cli-error.js";
import type { CommandContext, CommandSpec } from "./command.js";
import * as flags from "./flags.js";
import { EVIDENCE_OPTIONS, evidenceFrom } from "./kya-commands.js";

/**
 * Onboarding on a stack started by `warden up`: `warden agent add` (registry entry + SPIRE entry +
 * KYA submission) and `warden llm-key set` (a provider key into OpenBao, read from stdin, never
 * echoed). Both act on the local stack in $WARDEN_HOME; `llm-key set --openbao` on any OpenBao whose
 * init file it can read (the compose stack's).
 */
function localStack(ctx: CommandContext): { state: SupervisorState; home: string } {
  const home = loadRuntimeConfig(ctx.io.env).home;
  const state = readSupervisorState(homePaths(home).state);
  if (!state) throw new CliError(`no stack started by warden up in ${home} (warden up --detach)`);
  return { state, home };
}

type Agent = { id: string; name: string; spiffe_id: string; tenant: string };

const add: CommandSpec = {
  usage:
    "<name> (--image-digest sha256:… | --code-hash sha256:…) [--selector unix:uid:N]... [--tenant default] [--team default] [--capabilities llm:chat] [--endpoint url ...] [--checklist item,...] [--notes text]",
  options: {
    ...EVIDENCE_OPTIONS,
    selector: { type: "string", multiple: true },
    ...flags.stringFlags("tenant", "team"),
    capabilities: { type: "string", multiple: true },
  },
  async run(ctx) {
    const name = flags.onePositional(ctx, "agent name");
    const { state, home } = localStack(ctx);
    const selectors = (flags.list(ctx.values, "selector") ?? [`unix:uid:${process.getuid?.() ?? 0}`]).map(
      validateSelector,
    );
    // The KYA evidence is checked before anything is created.
    if (!flags.text(ctx.values, "image-digest") && !flags.text(ctx.values, "code-hash"))
      throw usageError("KYA evidence needs --image-digest or --code-hash");
    const evidence = evidenceFrom(ctx.values);
    const client = ctx.client();
    const agent = (
      await client.request<Agent>("POST", "/v1/agents", {
        body: {
          name,
          tenant: flags.text(ctx.values, "tenant") ?? "default",
          team: flags.text(ctx.values, "team") ?? "default",
          type: "assistant",
          environment: "development",
          capabilities: flags.list(ctx.values, "capabilities") ?? ["llm:chat"],
        },
      })
    ).body;
    const spire = spirePaths(homePaths(home).spire);
    const registrar = new SpireRegistrar({
      serverSocketPath: spire.serverSocket,
      serverBinary: toolPath("spire-server"),
    });
    await registrar.create({
      spiffeId: agent.spiffe_id,
      parentId: nodeAliasSpiffeId(state.trustDomain),
      selectors,
    });
    const attestation = (
      await client.request<{ id: string; status: string }>("POST", "/v1/attestations", {
        body: { agent_id: agent.id, evidence },
      })
    ).body;
    ctx.print({ agent, selectors, attestation }, () =>
      [
        `agent ${agent.name} registered: ${agent.id}, ${agent.spiffe_id} (tenant ${agent.tenant})`,
        `SPIRE entry: ${selectors.join(", ")}`,
        `KYA submitted: ${attestation.id} (${attestation.status}); a reviewer approves it:`,
        `  warden kya approve ${attestation.id} --level 1 --capability llm:chat`,
        "run the agent as a process matching the selector, with:",
        `  SPIFFE_ENDPOINT_SOCKET=${state.workloadEndpoint}`,
        `  base URL ${state.agentUrl}/openai/v1 (mTLS with its X.509-SVID; the sidecar is ${state.envoySpiffeId})`,
        "  no API key: the sidecar injects the tenant's key from OpenBao (warden llm-key set <provider>)",
      ].join("\n"),
    );
  },
};

async function readSecretFromStdin(prompt: string, io: CommandContext["io"]): Promise<string> {
  if (process.stdin.isTTY) {
    io.stderr(prompt);
    process.stdin.setRawMode(true);
  }
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      if (process.stdin.isTTY && (chunk.includes(13) || chunk.includes(10))) {
        chunks.push(chunk.subarray(0, Math.max(chunk.indexOf(13), chunk.indexOf(10), 0)));
        break;
      }
      if (process.stdin.isTTY && chunk.includes(3)) throw new CliError("interrupted");
      chunks.push(chunk);
    }
  } finally {
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.pause();
  }
  return Buffer.concat(chunks).toString("utf8").trim();
}

/** OpenBao's address, CA and init file: from the flags (any OpenBao), else the local stack's. */
function openBaoTarget(ctx: CommandContext): { address: string; caFile: string; initFile: string } {
  const address = flags.text(ctx.values, "openbao");
  if (address !== undefined) {
    if (!/^https:\/\/[^/]+$/.test(address)) throw usageError("--openbao must be https://host:port");
    const caFile = flags.text(ctx.values, "ca-file");
    const initFile = flags.text(ctx.values, "init-file");
    if (!caFile || !initFile) throw usageError("--openbao needs --ca-file and --init-file");
    return { address, caFile, initFile };
  }
  const { state, home } = localStack(ctx);
  // The port the running stack uses (WARDEN_PORT_BASE may differ in this shell).
  const port = state.components.find((c) => c.name === "openbao")?.ports.https;
  if (port === undefined) throw new CliError("the running stack has no OpenBao");
  return openBaoFiles(homePaths(home).openbao, port);
}

const set: CommandSpec = {
  usage:
    "<provider> [--tenant default] [--openbao https://host:8200 --ca-file pem --init-file path]   (the key is read from stdin, never echoed; without --openbao: the stack warden up started)",
  options: flags.stringFlags("tenant", "openbao", "ca-file", "init-file"),
  async run(ctx) {
    const provider = flags.onePositional(ctx, "provider (openai, anthropic, ...)");
    if (!/^[a-z0-9-]+$/.test(provider)) throw usageError("provider must be lower-case letters, digits, -");
    const tenant = flags.text(ctx.values, "tenant") ?? "default";
    if (!/^[A-Za-z0-9_-]+$/.test(tenant)) throw usageError("tenant must be letters, digits, _ or -");
    const target = openBaoTarget(ctx);
    const key = await readSecretFromStdin(`${provider} API key for tenant ${tenant}: `, ctx.io);
    if (!key) throw usageError("no key on stdin");
    const bao = new BaoClient(target.address, target.caFile);
    try {
      const written = await bao.must<{ data: { version: number } }>(
        "POST",
        `warden/data/llm/${tenant}/${provider}`,
        readRootToken(target),
        { data: { api_key: key } },
      );
      ctx.io.stdout(
        `stored in OpenBao at warden/llm/${tenant}/${provider} (field api_key, version ${written?.data.version ?? "?"})`,
      );
    } finally {
      bao.close();
    }
  },
};

export const agentOnboardingCommands: Record<string, CommandSpec> = { add };
export const llmKeyCommands: Record<string, CommandSpec> = { set };
