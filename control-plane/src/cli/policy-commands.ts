import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { manifestRevision } from "../../../lib/src/policy-bundle/manifest.js";
import {
  defaultAlgorithmFor,
  readPrivateKey,
  signBundle,
  SIGNING_ALGORITHMS,
} from "../../../lib/src/policy-bundle/sign.js";
import { SIGNATURES_FILE, type SigningAlgorithm } from "../../../lib/src/policy-bundle/signature.js";
import { readTarGz } from "../../../lib/src/policy-bundle/tar.js";
import { usageError } from "./cli-error.js";
import { parseFlags, runActionGroup, type CliIo } from "./command.js";
import * as flags from "./flags.js";
import { describeTarget, parsePushTarget, pushBundle, type PushTarget } from "./policy-push.js";

/**
 * `warden policy test|build|sign|push`: the policy author's workflow. `test` and `build` run the
 * project's scripts (scripts/policy-coverage.mjs, scripts/build-policy.mjs) so there is one
 * implementation of each; `sign` and `push` work on a built bundle.
 */
export const POLICY_USAGE = `usage:
  warden policy test  [--dir policies] [--min-coverage 90] [--json]
  warden policy build [--dir policies] [--out dist/policy/bundle.tar.gz] [--revision <r>]
                      [--signing-key <pem>] [--signing-alg <alg>]
  warden policy sign  --bundle <in.tar.gz> --signing-key <pem> [--out <file>] [--signing-alg <alg>]
                      [--key-id default]
  warden policy push  --bundle <file.tar.gz> [--to <path | http(s) URL>] [--token-file <file>]
environment: WARDEN_POLICY_SIGNING_KEY_FILE (--signing-key), WARDEN_POLICY_BUNDLE (--to),
             WARDEN_POLICY_PUSH_TOKEN_FILE (--token-file)
sign writes in place unless --out is given; the algorithm defaults to the key's (ES256 for P-256,
RS256 for RSA). push to a path replaces the file atomically; to a URL it PUTs with the bearer token.
exit codes: 0 done, 1 failed, 2 usage error`;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..").replace(/\/dist$/, "");
const COVERAGE_SCRIPT = join(REPO_ROOT, "scripts", "policy-coverage.mjs");
const BUILD_SCRIPT = join(REPO_ROOT, "scripts", "build-policy.mjs");

export type PolicyCommand =
  | { action: "test"; dir: string; minCoverage: number; json: boolean }
  | {
      action: "build";
      dir: string;
      out: string;
      revision?: string;
      signingKey?: string;
      signingAlg?: SigningAlgorithm;
    }
  | {
      action: "sign";
      bundle: string;
      signingKey: string;
      out: string;
      algorithm?: SigningAlgorithm;
      keyId: string;
    }
  | { action: "push"; bundle: string; to: PushTarget; tokenFile?: string };

function algorithm(text: string | undefined): SigningAlgorithm | undefined {
  if (text === undefined) return undefined;
  const found = SIGNING_ALGORITHMS.find((a) => a === text.toUpperCase());
  if (!found) throw usageError(`--signing-alg must be one of ${SIGNING_ALGORITHMS.join(", ")}`);
  return found;
}

function required(value: string | undefined, flag: string, action: string): string {
  if (value === undefined || value === "") throw usageError(`${action} needs --${flag}`);
  return value;
}

/** Parses the words after `warden policy`. Pure apart from resolving paths against the cwd. */
export function parsePolicyCommand(argv: readonly string[], env: NodeJS.ProcessEnv = {}): PolicyCommand {
  const { values, positionals } = parseFlags(argv, {
    ...flags.stringFlags("dir", "min-coverage", "out", "revision", "bundle", "signing-key", "signing-alg"),
    ...flags.stringFlags("key-id", "to", "token-file"),
    json: { type: "boolean" },
  });
  const [action, ...extra] = positionals;
  flags.noPositionals({ positionals: extra });
  const signingKey = values["signing-key"] ?? (env.WARDEN_POLICY_SIGNING_KEY_FILE || undefined);

  switch (action) {
    case "test": {
      const minCoverage = Number(values["min-coverage"] ?? "90");
      if (!Number.isFinite(minCoverage) || minCoverage < 0 || minCoverage > 100) {
        throw usageError("--min-coverage must be a percentage between 0 and 100");
      }
      return { action, dir: resolve(values.dir ?? "policies"), minCoverage, json: values.json ?? false };
    }
    case "build": {
      const signingAlg = algorithm(values["signing-alg"]);
      return {
        action,
        dir: resolve(values.dir ?? "policies"),
        out: resolve(values.out ?? join("dist", "policy", "bundle.tar.gz")),
        ...(values.revision ? { revision: values.revision } : {}),
        ...(signingKey ? { signingKey: resolve(signingKey) } : {}),
        ...(signingAlg ? { signingAlg } : {}),
      };
    }
    case "sign": {
      const bundle = resolve(required(values.bundle, "bundle", "sign"));
      const signingAlg = algorithm(values["signing-alg"]);
      return {
        action,
        bundle,
        signingKey: resolve(required(signingKey, "signing-key", "sign")),
        out: values.out ? resolve(values.out) : bundle,
        keyId: values["key-id"] ?? "default",
        ...(signingAlg ? { algorithm: signingAlg } : {}),
      };
    }
    case "push": {
      const to = values.to ?? (env.WARDEN_POLICY_BUNDLE || undefined);
      if (!to) throw usageError("push needs --to (or WARDEN_POLICY_BUNDLE)");
      let target: PushTarget;
      try {
        target = parsePushTarget(to);
      } catch (error) {
        throw usageError((error as Error).message);
      }
      const tokenFile = values["token-file"] ?? (env.WARDEN_POLICY_PUSH_TOKEN_FILE || undefined);
      return {
        action,
        bundle: resolve(required(values.bundle, "bundle", "push")),
        to: target,
        ...(tokenFile ? { tokenFile: resolve(tokenFile) } : {}),
      };
    }
    default:
      throw usageError(action ? `unknown command "${action}"` : "missing command");
  }
}

async function runPolicy(command: PolicyCommand, io: CliIo): Promise<number> {
  switch (command.action) {
    case "test":
      return runScript(
        COVERAGE_SCRIPT,
        ["--dir", command.dir, "--min", String(command.minCoverage), ...(command.json ? ["--json"] : [])],
        io,
      );
    case "build":
      return runScript(BUILD_SCRIPT, buildArgs(command), io);
    case "sign":
      await sign(command, io);
      return 0;
    case "push":
      await push(command, io);
      return 0;
  }
}

function buildArgs(command: Extract<PolicyCommand, { action: "build" }>): string[] {
  const args = ["--dir", command.dir, "--out", command.out];
  if (command.revision) args.push("--revision", command.revision);
  if (command.signingKey) args.push("--signing-key", command.signingKey);
  if (command.signingAlg) args.push("--signing-alg", command.signingAlg);
  return args;
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === "ENOENT" ? `${what} ${path} not found` : `cannot read ${what} ${path} (${code})`,
    );
  }
}

/** Reads a bundle, refusing anything that is not an OPA bundle archive. */
async function readBundle(path: string): Promise<{ bytes: Buffer; files: Map<string, Buffer> }> {
  const bytes = await readInput(path, "bundle");
  try {
    return { bytes, files: readTarGz(bytes) };
  } catch (error) {
    throw new Error(`${path} is not an OPA bundle: ${(error as Error).message}`);
  }
}

async function sign(command: Extract<PolicyCommand, { action: "sign" }>, io: CliIo): Promise<void> {
  const { bytes } = await readBundle(command.bundle);
  const privateKey = readPrivateKey((await readInput(command.signingKey, "signing key")).toString("utf8"));
  const algorithm = command.algorithm ?? defaultAlgorithmFor(privateKey);
  const signed = await signBundle(bytes, { privateKey, algorithm, keyId: command.keyId });
  await pushBundle(signed.bytes, { kind: "file", path: command.out });
  io.stdout(
    `signed ${command.out}: revision ${signed.revision ?? "(none)"}, ${algorithm}, key id "${command.keyId}", ` +
      `${signed.files.length} files${signed.replacedSignature ? " (replaced the previous signature)" : ""}`,
  );
}

async function push(command: Extract<PolicyCommand, { action: "push" }>, io: CliIo): Promise<void> {
  const { bytes, files } = await readBundle(command.bundle);
  if (!files.has(".manifest"))
    throw new Error(`${command.bundle} has no .manifest; build it with warden policy build`);
  const revision = manifestRevision(files);
  const signed = files.has(SIGNATURES_FILE);
  if (!signed) {
    io.stderr(
      "warden policy push: warning: the bundle is not signed; authz-server refuses it unless WARDEN_POLICY_REQUIRE_SIGNATURE=false",
    );
  }
  let token: string | undefined;
  if (command.tokenFile) {
    token = (await readInput(command.tokenFile, "token file")).toString("utf8").trim();
    if (!token) throw new Error(`the token file ${command.tokenFile} is empty`);
  }
  const result = await pushBundle(bytes, command.to, token ? { token } : {});
  io.stdout(
    `pushed revision ${revision ?? "(none)"} (${signed ? "signed" : "unsigned"}) to ${describeTarget(command.to)}` +
      (result.etag ? ` (etag ${result.etag})` : ""),
  );
}

/** Runs one of the project's node scripts, passing its output through line by line. */
function runScript(script: string, args: string[], io: CliIo): Promise<number> {
  if (!existsSync(script)) {
    io.stderr(`warden policy: ${script} is missing (run from an Agent Warden checkout)`);
    return Promise.resolve(1);
  }
  return new Promise((resolveCode) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: io.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const forward = (write: (line: string) => void) => {
      let pending = "";
      return {
        data: (chunk: Buffer) => {
          pending += chunk.toString("utf8");
          const lines = pending.split("\n");
          pending = lines.pop() ?? "";
          for (const line of lines) write(line);
        },
        end: () => {
          if (pending) write(pending);
          pending = "";
        },
      };
    };
    const out = forward(io.stdout);
    const err = forward(io.stderr);
    child.stdout.on("data", out.data);
    child.stderr.on("data", err.data);
    child.once("error", (error) => {
      io.stderr(`warden policy: cannot run ${script}: ${error.message}`);
      resolveCode(1);
    });
    child.once("close", (code) => {
      out.end();
      err.end();
      resolveCode(code ?? 1);
    });
  });
}

const policyGroup = { name: "policy", usage: POLICY_USAGE, parse: parsePolicyCommand, run: runPolicy };

/** Runs one `warden policy ...` command; returns the exit code (0 done, 1 failed, 2 usage). */
export const runPolicyCommand = (argv: readonly string[], io: CliIo) => runActionGroup(policyGroup, argv, io);
