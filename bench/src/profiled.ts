import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startEnvoy } from "../../test/harness/envoy.js";
import { freePorts, REPO_ROOT, startProcess, type ManagedProcess } from "../../test/harness/process.js";
import { buildPolicyBundle, stubbedProviderDestinations } from "../../test/harness/stack.js";
import type { Destination } from "../../lib/src/envoy/bootstrap.js";
import { startStubUpstream, type StubUpstream } from "../../test/stubs/upstream.js";
import { startWardenAuthz, type CheckServer } from "./check-servers.js";
import { newestProfile, summarizeProfile, type ProfileSummary } from "./cpu-profile.js";
import { SCRATCH_DIR } from "./results.js";

/**
 * The sidecar again with both of our servers under `node --cpu-prof` (the stack harness starts
 * them without Node flags, and NODE_OPTIONS refuses --cpu-prof): where their time goes while a
 * suite's load runs. Profiles land in .bench-out/ and are summarised when the servers exit.
 */
export interface ProfiledSidecar {
  agentUrl: string;
  upstream: StubUpstream;
  /** Call when the measured load begins: the profiles leave out everything before. */
  markLoadStart(): void;
  /** Stops everything and summarises both profiles. */
  finish(): Promise<{ authz: ProfileSummary; extproc: ProfileSummary }>;
}

export const SKELETON_POLICY = join(REPO_ROOT, "test", "fixtures", "policy-skeleton");

async function startProfiledExtproc(name: string, profileDir: string, env: NodeJS.ProcessEnv) {
  const [port] = (await freePorts(1)) as [number];
  const managed: ManagedProcess = startProcess({
    name,
    command: process.execPath,
    args: [
      "--cpu-prof",
      "--cpu-prof-dir",
      profileDir,
      join(REPO_ROOT, "dist", "extproc-server", "src", "main.js"),
    ],
    env: {
      WARDEN_EXTPROC_LISTEN: `127.0.0.1:${port}`,
      SPIFFE_ENDPOINT_SOCKET: "",
      WARDEN_SPIFFE_SOCKET: "",
      WARDEN_SHUTDOWN_GRACE_MS: "1000",
      // Plaintext gRPC on loopback like the measured run's servers (with Vault, it must be said).
      WARDEN_INSECURE_DEV_PLAINTEXT: "true",
      ...env,
    },
  });
  await managed.waitForLog(/extproc-server listening/, 30_000);
  return { port, managed };
}

export async function startProfiledSidecar(
  name: string,
  options: {
    extprocEnv?: NodeJS.ProcessEnv;
    /** Destinations for the given upstream port; every provider route → the stub by default. */
    destinations?: (upstream: StubUpstream) => Destination[];
    upstream?: StubUpstream;
  } = {},
): Promise<ProfiledSidecar> {
  const dir = join(SCRATCH_DIR, `${name}-profile-${Date.now()}`);
  const authzDir = join(dir, "authz");
  const extprocDir = join(dir, "extproc");
  mkdirSync(authzDir, { recursive: true });
  mkdirSync(extprocDir, { recursive: true });
  const upstream = options.upstream ?? (await startStubUpstream());
  const spawnedAt = Date.now();
  let loadStartedAt = spawnedAt;
  const bundle = await buildPolicyBundle(SKELETON_POLICY, join(dir, "bundle.tar.gz"));
  const authz: CheckServer = await startWardenAuthz({
    name: `${name}-profiled-authz`,
    inputs: { bundle, registryFile: "" },
    cpuProfileDir: authzDir,
  });
  const extproc = await startProfiledExtproc(
    `${name}-profiled-extproc`,
    extprocDir,
    options.extprocEnv ?? {},
  );
  const [agentPort, adminPort] = (await freePorts(2)) as [number, number];
  const [authzHost, authzPort] = authz.target.split(":") as [string, string];
  const envoy = await startEnvoy(`${name}-profiled`, {
    agentListener: { port: agentPort },
    admin: { port: adminPort },
    authz: { address: authzHost, port: Number(authzPort) },
    extproc: { address: "127.0.0.1", port: extproc.port },
    destinations: (options.destinations ?? stubbedProviderDestinations)(upstream),
  });
  return {
    agentUrl: `http://127.0.0.1:${agentPort}`,
    upstream,
    markLoadStart: () => {
      loadStartedAt = Date.now();
    },
    finish: async () => {
      await envoy.stop();
      await Promise.all([authz.stop(), extproc.managed.stop()]);
      if (!options.upstream) await upstream.close();
      const skipMs = loadStartedAt - spawnedAt;
      return {
        authz: summarizeProfile(newestProfile(authzDir), 15, skipMs),
        extproc: summarizeProfile(newestProfile(extprocDir), 15, skipMs),
      };
    },
  };
}
