import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { service as healthService, type ServingStatus } from "grpc-health-check";
import type { Destination, SidecarParams } from "../../lib/src/envoy/bootstrap.js";
import { providerDestinations } from "../../lib/src/envoy/bootstrap.js";
import { startEnvoy, type EnvoySidecar } from "./envoy.js";
import { freePorts, REPO_ROOT, RUN_DIR, startProcess, waitFor, type ManagedProcess } from "./process.js";
import { startStubUpstream, type StubUpstream } from "../stubs/upstream.js";

/**
 * The local data plane, all real and on free loopback ports: Envoy (rendered bootstrap) → authz-server
 * (policy bundle compiled by the real opa) and extproc-server (both from `dist/`), with every
 * destination routed to a stub upstream. `stop()` always tears everything down.
 *
 * Later issues add options (mTLS with SPIRE, Vault, PostgreSQL); keep every option optional.
 */
export interface StackOptions {
  /** Prefix of the log files and the working folder under `.run/`. */
  name?: string;
  /** Rego folder compiled into the bundle authz-server loads; defaults to the skeleton fixture. */
  policyDir?: string;
  /** Use this upstream instead of starting one (the caller closes it). */
  upstream?: StubUpstream;
  /** Destinations (pointed at the upstream); defaults to every provider route → the stub. */
  destinations?: (upstream: StubUpstream) => Destination[];
  /** Extra sidecar parameters (timeouts, header limits…). */
  sidecar?: Partial<Pick<SidecarParams, "timeouts" | "maxRequestHeadersKb">>;
  authzEnv?: NodeJS.ProcessEnv;
  extprocEnv?: NodeJS.ProcessEnv;
  envoyLogLevel?: string;
}

export interface WardenServer {
  readonly name: string;
  /** gRPC address Envoy talks to (host:port). */
  readonly address: string;
  readonly port: number;
  process(): ManagedProcess;
  /** The gRPC health service's answer for the whole server (""), or "UNREACHABLE". */
  health(): Promise<ServingStatus | "UNREACHABLE">;
  stop(): Promise<void>;
  /** Starts the server again on the same ports (after `stop()`). */
  restart(): Promise<void>;
}

export interface Stack {
  /** Base URL agents use, e.g. `${agentUrl}/openai/v1`. */
  agentUrl: string;
  agentPort: number;
  upstream: StubUpstream;
  authz: WardenServer;
  extproc: WardenServer;
  envoy: EnvoySidecar;
  dir: string;
  stop(): Promise<void>;
}

const SKELETON_POLICY = join(REPO_ROOT, "test", "fixtures", "policy-skeleton");
// Tests stop servers while Envoy holds connections to them; draining is tested on its own.
const SHUTDOWN_GRACE_MS = 1_000;
let stacks = 0;

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  stacks += 1;
  const name = `${options.name ?? "stack"}-${process.pid}-${stacks}`;
  const dir = join(RUN_DIR, name);
  mkdirSync(dir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch(() => undefined);
    }
  };

  try {
    ensureServersBuilt();
    const bundlePath = await buildPolicyBundle(
      options.policyDir ?? SKELETON_POLICY,
      join(dir, "bundle.tar.gz"),
    );
    const [agentPort, adminPort, authzPort, authzStatusPort, extprocPort] = (await freePorts(5)) as [
      number,
      number,
      number,
      number,
      number,
    ];

    const upstream = options.upstream ?? (await startStubUpstream());
    if (!options.upstream) cleanups.push(() => upstream.close());

    const authz = wardenServer(
      `${name}-authz`,
      "authz-server",
      authzPort,
      `http://127.0.0.1:${authzStatusPort}/readyz`,
      {
        WARDEN_AUTHZ_LISTEN: `127.0.0.1:${authzPort}`,
        WARDEN_AUTHZ_STATUS_LISTEN: `127.0.0.1:${authzStatusPort}`,
        WARDEN_POLICY_BUNDLE: bundlePath,
        WARDEN_POLICY_REQUIRE_SIGNATURE: "false",
        WARDEN_SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
        ...options.authzEnv,
      },
    );
    cleanups.push(() => authz.stop());
    const extproc = wardenServer(`${name}-extproc`, "extproc-server", extprocPort, null, {
      WARDEN_EXTPROC_LISTEN: `127.0.0.1:${extprocPort}`,
      WARDEN_SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
      ...options.extprocEnv,
    });
    cleanups.push(() => extproc.stop());
    await Promise.all([authz.restart(), extproc.restart()]);

    const destinations = (options.destinations ?? stubbedProviderDestinations)(upstream);
    const envoy = await startEnvoy(
      name,
      {
        agentListener: { port: agentPort },
        admin: { port: adminPort },
        authz: { address: "127.0.0.1", port: authzPort },
        extproc: { address: "127.0.0.1", port: extprocPort },
        destinations,
        ...options.sidecar,
      },
      { logLevel: options.envoyLogLevel },
    );
    cleanups.push(() => envoy.stop());

    return {
      agentUrl: `http://127.0.0.1:${agentPort}`,
      agentPort,
      upstream,
      authz,
      extproc,
      envoy,
      dir,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Every provider route, pointed at the stub over plain HTTP (production uses TLS to the real host). */
export function stubbedProviderDestinations(upstream: StubUpstream): Destination[] {
  return providerDestinations().map((destination) => ({
    ...destination,
    upstream: { address: "127.0.0.1", port: upstream.port, tls: false },
  }));
}

function wardenServer(
  name: string,
  component: string,
  port: number,
  readyUrl: string | null,
  env: NodeJS.ProcessEnv,
): WardenServer {
  const main = join(REPO_ROOT, "dist", component, "src", "main.js");
  const address = `127.0.0.1:${port}`;
  let current: ManagedProcess | undefined;
  return {
    name,
    address,
    port,
    process: () => {
      if (!current) throw new Error(`${name} was never started`);
      return current;
    },
    health: () => grpcHealth(address),
    stop: async () => {
      await current?.stop();
    },
    restart: async () => {
      if (current?.running) throw new Error(`${name} is already running`);
      current = startProcess({
        name,
        command: process.execPath,
        args: [main],
        env: { ...env, NODE_ENV: "test" },
      });
      await current.waitForLog(new RegExp(`${component} listening`));
      await waitFor(`${name} gRPC health SERVING`, async () => (await grpcHealth(address)) === "SERVING");
      // authz-server listens before its policy is loaded (it refuses with 503 until then).
      if (readyUrl) await waitFor(`${name} ready`, async () => (await fetch(readyUrl)).ok);
    },
  };
}

const HealthClient = makeGenericClientConstructor(healthService, "grpc.health.v1.Health");

interface HealthCheckClient extends Client {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (error: ServiceError | null, response?: { status?: ServingStatus }) => void,
  ): void;
}

/** Asks the standard gRPC health service; any failure to answer is "UNREACHABLE". */
export function grpcHealth(address: string, timeoutMs = 1_000): Promise<ServingStatus | "UNREACHABLE"> {
  const client = new HealthClient(address, credentials.createInsecure()) as unknown as HealthCheckClient;
  return new Promise((resolve) => {
    client.check({ service: "" }, { deadline: Date.now() + timeoutMs }, (error, response) => {
      client.close();
      resolve(error || !response?.status ? "UNREACHABLE" : response.status);
    });
  });
}

/**
 * Compiles a Rego folder into a Wasm bundle with the real opa, through the project's own bundle
 * build (scripts/build-policy.mjs: entrypoint, content revision, the opa-wasm SDK's builtins).
 */
export function buildPolicyBundle(policyDir: string, out: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, "scripts", "build-policy.mjs"), "--dir", policyDir, "--out", out, "--quiet"],
      { cwd: REPO_ROOT, timeout: 60_000 },
      (error, _stdout, stderr) =>
        error ? reject(new Error(`policy build failed: ${stderr}`)) : resolve(out),
    );
  });
}

const SERVER_SOURCES = ["lib/src", "authz-server/src", "extproc-server/src"];
const SERVER_MAINS = ["authz-server", "extproc-server"].map((c) =>
  join(REPO_ROOT, "dist", c, "src", "main.js"),
);

/**
 * The servers run from `dist/` as they do in production. Builds (once, under a lock shared with
 * parallel test workers) when a server is missing or older than any source file.
 */
export function ensureServersBuilt(): void {
  if (!needsBuild()) return;
  try {
    execFileSync("flock", ["/tmp/warden-build.lock", process.execPath, "scripts/build.mjs"], {
      cwd: REPO_ROOT,
      stdio: "pipe",
      timeout: 300_000,
    });
  } catch (error) {
    // tsc still emits when another file has a type error; the servers may be usable regardless.
    if (SERVER_MAINS.some((main) => !existsSync(main))) throw error;
  }
}

function needsBuild(): boolean {
  const built = SERVER_MAINS.map((main) => (existsSync(main) ? statSync(main).mtimeMs : 0));
  const oldestBuild = Math.min(...built);
  return SERVER_SOURCES.some((dir) => newestTsMtime(join(REPO_ROOT, dir)) > oldestBuild);
}

function newestTsMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestTsMtime(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}
