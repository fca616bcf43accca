import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { service as healthService, type ServingStatus } from "grpc-health-check";
import type { Destination, SidecarParams } from "../../lib/src/envoy/bootstrap.js";
import { providerDestinations } from "../../lib/src/envoy/bootstrap.js";
import { startEnvoy, type EnvoySidecar } from "./envoy.js";
import { httpOk, portOpen } from "../../lib/src/runtime/child.js";
import { nodeProgramComponent } from "../../lib/src/runtime/components/node-programs.js";
import { COMPONENT_UIDS, distMain } from "../../lib/src/runtime/layout.js";
import {
  freePorts,
  launchComponent,
  REPO_ROOT,
  RUN_DIR,
  SERVER_SHUTDOWN_GRACE_MS,
  type ManagedProcess,
} from "./process.js";
import { startStubUpstream, type StubUpstream } from "../stubs/upstream.js";
import { workloadSpiffeId } from "../../lib/src/spiffe/naming.js";
import { trustDomainId } from "../../lib/src/spiffe/spiffe-id.js";
import { currentProcessSelector, startSpire, type SpireOptions, type SpireStack } from "./spire.js";
import { SvidHttpsClient } from "../agents/svid-https-client.js";
import {
  followingControlPlane,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from "./control-plane.js";
import { startPostgres, type PostgresCluster } from "./postgres.js";
import { startVault, type VaultDev } from "./vault.js";
import { StubOidcIssuer } from "../stubs/oidc-issuer.js";

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
  sidecar?: Partial<
    Pick<SidecarParams, "timeouts" | "maxRequestHeadersKb" | "rateLimit" | "localRateLimit" | "tracing">
  >;
  authzEnv?: NodeJS.ProcessEnv;
  extprocEnv?: NodeJS.ProcessEnv;
  envoyLogLevel?: string;
  /**
   * mTLS everywhere with SVIDs from this SPIRE: Envoy, authz-server and extproc-server run
   * under their own uids (WORKLOAD_UIDS), registered with `unix:uid` selectors; agents must present
   * an SVID; Envoy ↔ servers is mTLS, each side checking the other's SPIFFE ID. Without it: plain
   * HTTP and gRPC on loopback.
   */
  spire?: SpireStack;
  /**
   * With `spire`: the stack is an MCP server's inbound sidecar. Envoy holds the MCP server's SVID
   * (spiffe://<td>/mcp/<server>, registered for `envoyUid`), authz-server runs in inbound mode
   * (WARDEN_INBOUND_*) and both servers accept that Envoy. `destinations` names the one MCP server.
   */
  inbound?: { params: NonNullable<SidecarParams["inbound"]>; envoyUid: number };
}

/** The uids our components run under with `spire`; test agents use 10100 and up. */
export const WORKLOAD_UIDS = COMPONENT_UIDS;

export interface StackIdentities {
  trustDomain: string;
  envoy: string;
  authz: string;
  extproc: string;
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
  /** The components' SPIFFE IDs when the stack runs with `spire`, else null. */
  identities: StackIdentities | null;
  stop(): Promise<void>;
}

const SKELETON_POLICY = join(REPO_ROOT, "test", "fixtures", "policy-skeleton");
/**
 * Envoy's waits for authz-server and extproc-server in test stacks. The product defaults (250 ms /
 * 1 s) are for a machine that is not also running the test suite; on a 2-core machine under a CPU hog
 * a first Check can take longer, and a test that is not about timeouts must not fail on one. Tests
 * about timeouts pass their own `sidecar.timeouts`; speed is measured by `bench/`, not here.
 */
const TEST_SIDECAR_TIMEOUTS = { authzMs: 3_000, extprocMessageMs: 5_000 };
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

    const spire = options.spire;
    const identities = spire ? await registerComponents(spire, options.inbound) : null;
    // An inbound sidecar's servers accept its Envoy (the MCP server's SVID), not the usual one.
    const inboundEnv = options.inbound && identities ? { WARDEN_ALLOWED_CLIENT_IDS: identities.envoy } : {};
    // Without SPIRE the servers stay plaintext, even if the caller's environment names a socket.
    const spiffeEnv = spire
      ? { SPIFFE_ENDPOINT_SOCKET: spire.endpoint, WARDEN_SPIFFE_SOCKET: "" }
      : { SPIFFE_ENDPOINT_SOCKET: "", WARDEN_SPIFFE_SOCKET: "" };

    // authz-server's decision audit spool (used when it has a database), writable by its own uid.
    const authzSpoolDir = join(dir, "authz-audit");
    mkdirSync(authzSpoolDir, { recursive: true, mode: 0o700 });
    if (spire) chownSync(authzSpoolDir, WORKLOAD_UIDS.authz, WORKLOAD_UIDS.authz);

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
        WARDEN_SHUTDOWN_GRACE_MS: String(SERVER_SHUTDOWN_GRACE_MS),
        WARDEN_AUDIT_SPOOL: join(authzSpoolDir, "spool.ndjson"),
        ...spiffeEnv,
        ...inboundEnv,
        ...(options.inbound
          ? {
              WARDEN_INBOUND_MCP_SERVER: options.inbound.params.server,
              WARDEN_INBOUND_RESOURCE_URI: options.inbound.params.resourceUri,
            }
          : {}),
        ...options.authzEnv,
      },
      spire ? WORKLOAD_UIDS.authz : undefined,
    );
    cleanups.push(() => authz.stop());
    const extproc = wardenServer(
      `${name}-extproc`,
      "extproc-server",
      extprocPort,
      null,
      {
        WARDEN_EXTPROC_LISTEN: `127.0.0.1:${extprocPort}`,
        WARDEN_SHUTDOWN_GRACE_MS: String(SERVER_SHUTDOWN_GRACE_MS),
        // Stacks without SPIRE serve plaintext on loopback; with Vault that needs the dev flag.
        ...(spire ? {} : { WARDEN_INSECURE_DEV_PLAINTEXT: "true" }),
        ...spiffeEnv,
        ...inboundEnv,
        ...options.extprocEnv,
      },
      spire ? WORKLOAD_UIDS.extproc : undefined,
    );
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
        timeouts: { ...TEST_SIDECAR_TIMEOUTS, ...options.sidecar?.timeouts },
        ...(spire && identities
          ? {
              downstreamTls: {
                spireAgentSocket: spire.workloadSocketPath,
                svidName: identities.envoy,
                trustBundleName: trustDomainId(identities.trustDomain),
              },
              serverIdentities: { authz: identities.authz, extproc: identities.extproc },
            }
          : {}),
        ...(options.inbound ? { inbound: options.inbound.params } : {}),
      },
      {
        logLevel: options.envoyLogLevel,
        uid: spire ? (options.inbound?.envoyUid ?? WORKLOAD_UIDS.envoy) : undefined,
      },
    );
    cleanups.push(() => envoy.stop());

    return {
      agentUrl: `${spire ? "https" : "http"}://127.0.0.1:${agentPort}`,
      agentPort,
      upstream,
      authz,
      extproc,
      envoy,
      dir,
      identities,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface TestStackOptions {
  /** Names the logs and folders under `.run/`. */
  name: string;
  trustDomain: string;
  spire?: Omit<SpireOptions, "name" | "trustDomain">;
  /** The data plane (policy, destinations, extra server environment); it always runs with SPIRE. */
  dataPlane?: Omit<StackOptions, "name" | "spire">;
  /**
   * More of extproc-server's environment once the database exists (e.g. its usage store:
   * `DATABASE_URL` as `extprocLogin`); merged over `dataPlane.extprocEnv`.
   */
  extprocStore?: (database: { cluster: PostgresCluster; databaseUrl: string }) => Promise<NodeJS.ProcessEnv>;
  /** authz-server accepts the control plane's access tokens (WARDEN_TOKEN_ISSUER). */
  acceptTokens?: boolean;
  /**
   * The SPIFFE ID of an agent played by this test process (its uid is the SPIRE selector): it is
   * registered, and `agentClient` calls Envoy with its SVID.
   */
  agent?: string;
}

/** Every real component of a governed deployment, started by `startTestStack`. */
export interface TestStack {
  cluster: PostgresCluster;
  /** The control plane's database (superuser URL). */
  databaseUrl: string;
  vault: VaultDev;
  oidc: StubOidcIssuer;
  spire: SpireStack;
  controlPlane: ControlPlaneProcess;
  stack: Stack;
  /** With `agent`: HTTPS to Envoy with the agent's SVID; else null. */
  agentClient: SvidHttpsClient | null;
  /** Stops everything in reverse order of start. */
  stop(): Promise<void>;
}

/**
 * The one start-up of a governed test environment: PostgreSQL, OpenBao, a stub OIDC issuer and
 * SPIRE (in parallel), the control plane as a process, then the data plane with SPIRE mTLS, where
 * authz-server reads the registry through the data-plane login and checks tokens against the
 * control plane's JWKS.
 */
export async function startTestStack(options: TestStackOptions): Promise<TestStack> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  const started = <T>(component: Promise<T>, stopIt: (t: T) => Promise<unknown>) =>
    component.then((value) => {
      cleanups.push(() => stopIt(value));
      return value;
    });
  try {
    const [cluster, vault, oidc, spire] = await Promise.all([
      started(startPostgres(), (c) => c.destroy()),
      started(startVault(), (v) => v.stop()),
      started(StubOidcIssuer.start(), (o) => o.close()),
      started(
        startSpire({ ...options.spire, name: `${options.name}-spire`, trustDomain: options.trustDomain }),
        (sp) => sp.stop(),
      ),
    ]);
    const databaseUrl = await cluster.createDatabase();
    const controlPlane = await started(
      startControlPlaneProcess({
        name: `${options.name}-control-plane`,
        databaseUrl,
        oidcIssuer: oidc.issuer,
        vault,
      }),
      (cp) => cp.stop(),
    );
    const dataPlane = options.dataPlane ?? {};
    const stack = await started(
      startStack({
        ...dataPlane,
        name: options.name,
        spire,
        authzEnv: {
          ...(await followingControlPlane(cluster, databaseUrl, controlPlane.url, {
            acceptTokens: options.acceptTokens === true,
          })),
          ...dataPlane.authzEnv,
        },
        extprocEnv: {
          ...dataPlane.extprocEnv,
          ...(await options.extprocStore?.({ cluster, databaseUrl })),
        },
      }),
      (st) => st.stop(),
    );
    const agent = options.agent
      ? await started(svidAgent(spire, options.agent, stack), (a) => a.close())
      : null;
    const agentClient = agent?.client ?? null;
    return { cluster, databaseUrl, vault, oidc, spire, controlPlane, stack, agentClient, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Registers the test process as `spiffeId`; its client calls Envoy with the SVID. */
async function svidAgent(
  spire: SpireStack,
  spiffeId: string,
  stack: Stack,
): Promise<{ client: SvidHttpsClient; close(): Promise<void> }> {
  await spire.register(spiffeId, [currentProcessSelector()]);
  const workload = spire.workloadClient();
  const watcher = workload.watchX509Svids({ retryMaxMs: 250 });
  const client = new SvidHttpsClient(watcher, stack.identities!.envoy);
  const close = async () => {
    client.close();
    watcher.close();
    workload.close();
  };
  try {
    await client.ready();
  } catch (error) {
    await close();
    throw error;
  }
  return { client, close };
}

/** Every provider route, pointed at the stub over plain HTTP (production uses TLS to the real host). */
export function stubbedProviderDestinations(upstream: StubUpstream): Destination[] {
  return providerDestinations().map((destination) => ({
    ...destination,
    upstream: { address: "127.0.0.1", port: upstream.port, tls: false },
  }));
}

/** Every provider route to the stub, except `service`, which goes to its own stub on `port`. */
export function destinationsWithServiceAt(
  service: string,
  port: number,
): (upstream: StubUpstream) => Destination[] {
  return (upstream) =>
    stubbedProviderDestinations(upstream).map((d) =>
      d.service === service ? { ...d, upstream: { address: "127.0.0.1", port, tls: false } } : d,
    );
}

/**
 * Entries for Envoy and both servers, each selected by the uid it runs under (an inbound sidecar's
 * Envoy: the MCP server's ID under its own uid). Several stacks may share one SPIRE: an entry that
 * is already there is not created twice.
 */
async function registerComponents(
  spire: SpireStack,
  inbound?: StackOptions["inbound"],
): Promise<StackIdentities> {
  const td = spire.trustDomain;
  const ids: StackIdentities = {
    trustDomain: td,
    envoy: inbound
      ? workloadSpiffeId(td, "mcp", inbound.params.server)
      : workloadSpiffeId(td, "warden", "envoy"),
    authz: workloadSpiffeId(td, "warden", "authz"),
    extproc: workloadSpiffeId(td, "warden", "extproc"),
  };
  const uids = { ...WORKLOAD_UIDS, ...(inbound ? { envoy: inbound.envoyUid } : {}) };
  for (const component of ["envoy", "authz", "extproc"] as const) {
    const selectors = [`unix:uid:${uids[component]}`];
    const existing = await spire.registrar.list({ spiffeId: ids[component], selectors });
    if (existing.length === 0) await spire.register(ids[component], selectors);
  }
  return ids;
}

function wardenServer(
  name: string,
  component: "authz-server" | "extproc-server",
  port: number,
  readyUrl: string | null,
  env: NodeJS.ProcessEnv,
  uid?: number,
): WardenServer {
  const address = `127.0.0.1:${port}`;
  const program = nodeProgramComponent({
    name: component,
    args: [distMain(component)],
    ports: { grpc: port },
    uid,
    env: () => ({ ...env, NODE_ENV: "test" }),
    readiness: `${name} serving`,
    // With SPIRE the server waits for its SVID first, and answers only Envoy (health included).
    // authz-server listens before its policy is loaded (it refuses with 503 until then).
    serving: async () =>
      (await portOpen(port)) &&
      (uid !== undefined || (await grpcHealth(address)) === "SERVING") &&
      (readyUrl === null || (await httpOk(readyUrl))),
    readyTimeoutMs: 60_000,
  });
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
      current = await launchComponent(program, name);
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
const SERVER_MAINS = ["authz-server", "extproc-server"].map(distMain);

/**
 * The servers run from `dist/` as they do in production. Builds (once, under a lock shared with
 * parallel test workers) when a server is missing or older than any source file.
 */
export function ensureServersBuilt(): void {
  ensureBuilt(SERVER_MAINS, SERVER_SOURCES);
}

/**
 * Builds when any of `mains` (absolute paths under dist/) is missing or older than a source file in
 * `sources` (folders relative to the repository), e.g. the control plane for tests that run it as a
 * process.
 */
export function ensureBuilt(mains: string[], sources: string[]): void {
  if (!needsBuild(mains, sources)) return;
  try {
    execFileSync("flock", ["/tmp/warden-build.lock", process.execPath, "scripts/build.mjs"], {
      cwd: REPO_ROOT,
      stdio: "pipe",
      timeout: 300_000,
    });
  } catch (error) {
    // tsc still emits when another file has a type error; the servers may be usable regardless.
    if (mains.some((main) => !existsSync(main))) throw error;
  }
}

function needsBuild(mains: string[], sources: string[]): boolean {
  const built = mains.map((main) => (existsSync(main) ? statSync(main).mtimeMs : 0));
  const oldestBuild = Math.min(...built);
  return sources.some((dir) => newestTsMtime(join(REPO_ROOT, dir)) > oldestBuild);
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
