import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readRegistryFile } from "../../authz-server/src/directory/static-file.js";
import { AuthorizationService, type ICheckResponse } from "../../lib/src/envoy/services.js";
import { POLICY_DIR } from "../../test/harness/policy-bundles.js";
import {
  freePorts,
  REPO_ROOT,
  startProcess,
  waitFor,
  WaitAborted,
  type ManagedProcess,
} from "../../test/harness/process.js";
import { buildPolicyBundle } from "../../test/harness/stack.js";
import { approvedAgent, registrySnapshot } from "../../test/harness/registry-snapshot.js";
import { benchToolPath, pinned, SERVER_CPU } from "./tools.js";

/**
 * The three ext_authz Check servers the authz suite compares, each a real process on loopback:
 * our authz-server (the shipped policy compiled to Wasm, a registry snapshot file), opa-envoy-plugin
 * running the same Rego and data natively through bench/opa-envoy/adapter.rego, and the no-op
 * grpc-js server (the floor of our runtime).
 */
export interface CheckServer {
  readonly name: string;
  /** host:port */
  readonly target: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export const BENCH_AGENT = "research-bot";
const DAY_MS = 86_400_000;

export interface PolicyInputs {
  bundle: string;
  registryFile: string;
  /** The same registry as OPA data: `bench_registry.by_spiffe_id`. */
  opaRegistryFile: string;
}

/** The shipped policy as a Wasm bundle, and a registry of `agents` approved agents (BENCH_AGENT first). */
export async function preparePolicyInputs(dir: string, agents: number): Promise<PolicyInputs> {
  const bundle = await buildPolicyBundle(POLICY_DIR, join(dir, "bundle.tar.gz"));
  const window = { issuedAtNs: (Date.now() - DAY_MS) * 1e6, expiresAtNs: (Date.now() + 30 * DAY_MS) * 1e6 };
  const entries = [approvedAgent({ name: BENCH_AGENT, ...window })];
  for (let i = 1; i < agents; i += 1) entries.push(approvedAgent({ name: `bulk-${i}`, ...window }));
  const registryFile = join(dir, "registry.json");
  writeFileSync(registryFile, registrySnapshot(...entries));
  // Parsed by authz-server's own reader, so OPA sees exactly the records authz-server holds.
  const bySpiffeId = Object.fromEntries(readRegistryFile(registryFile).map((e) => [e.agent.spiffe_id, e]));
  const opaRegistryFile = join(dir, "opa-registry.json");
  writeFileSync(opaRegistryFile, JSON.stringify({ bench_registry: { by_spiffe_id: bySpiffeId } }));
  return { bundle, registryFile, opaRegistryFile };
}

export interface WardenAuthzOptions {
  name: string;
  inputs: Pick<PolicyInputs, "bundle" | "registryFile">;
  /** Write a V8 CPU profile (.cpuprofile) into this folder when the server exits. */
  cpuProfileDir?: string;
  logLevel?: string;
  /** More environment, e.g. the decision audit's database (bench/src/suites/audit.ts). */
  env?: NodeJS.ProcessEnv;
  /** Another build's authz-server (a `dist/` folder), for before/after comparisons. */
  distDir?: string;
  /** Not pinned to the server core (bench/src/suites/cores.ts: it should use every core). */
  unpinned?: boolean;
}

export async function startWardenAuthz(options: WardenAuthzOptions): Promise<CheckServer> {
  const [port, statusPort] = (await freePorts(2)) as [number, number];
  const nodeArgs = options.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProfileDir] : [];
  const main = join(options.distDir ?? join(REPO_ROOT, "dist"), "authz-server", "src", "main.js");
  const { command, args } = options.unpinned
    ? { command: process.execPath, args: [...nodeArgs, main] }
    : pinned(SERVER_CPU, process.execPath, [...nodeArgs, main]);
  const managed = startProcess({
    name: options.name,
    command,
    args,
    env: {
      WARDEN_AUTHZ_LISTEN: `127.0.0.1:${port}`,
      WARDEN_AUTHZ_STATUS_LISTEN: `127.0.0.1:${statusPort}`,
      WARDEN_POLICY_BUNDLE: options.inputs.bundle,
      WARDEN_POLICY_REQUIRE_SIGNATURE: "false",
      WARDEN_REGISTRY_FILE: options.inputs.registryFile,
      WARDEN_REGISTRY_DATABASE_URL: "",
      DATABASE_URL: "",
      SPIFFE_ENDPOINT_SOCKET: "",
      WARDEN_SPIFFE_SOCKET: "",
      // The shipped default: one JSON decision line per request.
      WARDEN_LOG_LEVEL: options.logLevel ?? "info",
      ...options.env,
    },
  });
  await managed.waitForLog(/authz-server listening/, 30_000);
  await waitFor(
    `${options.name} ready`,
    async () => (await fetch(`http://127.0.0.1:${statusPort}/readyz`)).ok,
  );
  return server(options.name, `127.0.0.1:${port}`, managed);
}

/** `transport`: grpc-js (the floor issue #24 defines) or our node:http2 transport. */
export async function startNoopServer(
  name = "bench-noop",
  env: NodeJS.ProcessEnv = {},
  transport: "grpc-js" | "h2" = "grpc-js",
): Promise<CheckServer> {
  const [port] = (await freePorts(1)) as [number];
  const { command, args } = pinned(SERVER_CPU, process.execPath, [
    join(REPO_ROOT, "dist", "bench", "noop-check-server.js"),
    `127.0.0.1:${port}`,
    transport,
  ]);
  const managed = startProcess({ name, command, args, env });
  await managed.waitForPort(port);
  return server(name, `127.0.0.1:${port}`, managed);
}

/** `policyDir`: a policies/-shaped folder OPA 1.15 loads (see opa-compat.ts). */
export async function startOpaEnvoyPlugin(
  dir: string,
  policyDir: string,
  inputs: Pick<PolicyInputs, "opaRegistryFile">,
  name = "bench-opa-envoy-plugin",
): Promise<CheckServer> {
  const [grpcPort, httpPort] = (await freePorts(2)) as [number, number];
  const config = join(dir, "opa-envoy-config.yaml");
  writeFileSync(
    config,
    [
      "plugins:",
      "  envoy_ext_authz_grpc:",
      `    addr: 127.0.0.1:${grpcPort}`,
      "    path: envoy/authz/allow",
      "    enable-reflection: false",
      "",
    ].join("\n"),
  );
  const { command, args } = pinned(SERVER_CPU, benchToolPath("opa-envoy-plugin"), [
    "run",
    "--server",
    "--addr",
    `127.0.0.1:${httpPort}`,
    "--config-file",
    config,
    "--log-level",
    "error",
    "--skip-version-check",
    join(policyDir, "warden"),
    join(policyDir, "data.json"),
    join(REPO_ROOT, "bench", "opa-envoy", "adapter.rego"),
    inputs.opaRegistryFile,
  ]);
  const managed = startProcess({ name, command, args });
  await waitFor(
    `${name} plugins ready`,
    async () => {
      if (!managed.running) throw new WaitAborted(`${name} exited:\n${managed.log().slice(-3000)}`);
      return (await fetch(`http://127.0.0.1:${httpPort}/health?plugins`)).ok;
    },
    60_000,
  );
  await managed.waitForPort(grpcPort);
  return server(name, `127.0.0.1:${grpcPort}`, managed);
}

function server(name: string, target: string, managed: ManagedProcess): CheckServer {
  return { name, target, process: managed, stop: async () => void (await managed.stop()) };
}

// ---------- one Check, as Envoy asks it ----------

interface CheckClient extends Client {
  check(
    request: Uint8Array,
    options: { deadline: number },
    callback: (error: ServiceError | null, response?: ICheckResponse) => void,
  ): void;
}

/** The service definition with the request already serialized: the bench sends fixed bytes. */
const RawAuthorizationService = {
  check: { ...AuthorizationService.check, requestSerialize: (bytes: Uint8Array) => Buffer.from(bytes) },
};
const AuthorizationClient = makeGenericClientConstructor(RawAuthorizationService, "Authorization");

export interface Verdict {
  allowed: boolean;
  /** The error code of a denial (`kya_missing`, ...), "" on an allow. */
  code: string;
  httpStatus: number;
}

export function checkClient(target: string): CheckClient {
  return new AuthorizationClient(target, credentials.createInsecure()) as unknown as CheckClient;
}

export function checkOnce(client: CheckClient, message: Uint8Array): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    client.check(message, { deadline: Date.now() + 5_000 }, (error, response) => {
      if (error || !response) return reject(error ?? new Error("no response"));
      resolve(verdictOf(response));
    });
  });
}

export function verdictOf(response: ICheckResponse): Verdict {
  if (response.status?.code === 0 || response.status?.code == null) {
    return { allowed: true, code: "", httpStatus: 200 };
  }
  let code = "";
  try {
    const body = JSON.parse(response.deniedResponse?.body ?? "{}") as { error?: { code?: unknown } };
    code = typeof body.error?.code === "string" ? body.error.code : "";
  } catch {
    code = "";
  }
  return { allowed: false, code, httpStatus: response.deniedResponse?.status?.code ?? 0 };
}
