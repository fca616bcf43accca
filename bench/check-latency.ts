/**
 * Quick figure: Check latency straight at authz-server (full policy, realistic request) vs a no-op
 * Check server, both real processes, measured from one grpc-js client in this process, same run.
 * Run: npm run build && node dist/bench/check-latency.js [requests=3000] [concurrency=1]
 */
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from "@grpc/grpc-js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthorizationService, type ICheckResponse } from "../lib/src/envoy/services.js";
import { freePorts, REPO_ROOT, startProcess, stopAll, waitFor } from "../test/harness/process.js";
import { buildBundle } from "../test/harness/policy-bundles.js";
import { approvedAgent, registrySnapshot } from "../test/harness/registry-snapshot.js";
import { realisticCheckRequestObject } from "./fixtures/check-request.js";

type CheckClient = Client & {
  check(request: unknown, callback: (error: ServiceError | null, response?: ICheckResponse) => void): void;
};

const requests = Number(process.argv[2] ?? 3000);
const concurrency = Number(process.argv[3] ?? 1);
const AGENT = "research-bot";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(
  name: string,
  port: number,
  message: unknown,
): Promise<{ p50: number; p99: number; allowed: number }> {
  const Ctor = makeGenericClientConstructor(AuthorizationService, "Authorization");
  const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as CheckClient;
  const once = () =>
    new Promise<{ us: number; ok: boolean }>((resolve, reject) => {
      const start = process.hrtime.bigint();
      client.check(message, (error, response) => {
        if (error) return reject(error);
        resolve({ us: Number(process.hrtime.bigint() - start) / 1000, ok: response?.status?.code === 0 });
      });
    });
  for (let i = 0; i < 500; i++) await once(); // warm-up
  const samples: number[] = [];
  let allowed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < requests) {
        const { us, ok } = await once();
        samples.push(us);
        if (ok) allowed += 1;
      }
    }),
  );
  client.close();
  samples.sort((a, b) => a - b);
  const result = { p50: percentile(samples, 50), p99: percentile(samples, 99), allowed };
  console.log(
    JSON.stringify({
      bench: "check-latency",
      server: name,
      requests,
      concurrency,
      p50_us: Math.round(result.p50),
      p99_us: Math.round(result.p99),
      allowed,
    }),
  );
  return result;
}

const dir = mkdtempSync(join(tmpdir(), "warden-bench-"));
try {
  const bundle = join(dir, "bundle.tar.gz");
  buildBundle({ out: bundle });
  writeFileSync(
    join(dir, "registry.json"),
    registrySnapshot(
      approvedAgent({
        name: AGENT,
        attestationId: "att-1",
        issuedAtNs: 0,
        expiresAtNs: (Date.now() + 86_400_000) * 1e6,
      }),
    ),
  );
  const [authzPort, statusPort, noopPort] = (await freePorts(3)) as [number, number, number];
  startProcess({
    name: "bench-authz",
    command: process.execPath,
    args: [join(REPO_ROOT, "dist/authz-server/src/main.js")],
    env: {
      WARDEN_AUTHZ_LISTEN: `127.0.0.1:${authzPort}`,
      WARDEN_AUTHZ_STATUS_LISTEN: `127.0.0.1:${statusPort}`,
      WARDEN_POLICY_BUNDLE: bundle,
      WARDEN_POLICY_REQUIRE_SIGNATURE: "false",
      WARDEN_REGISTRY_FILE: join(dir, "registry.json"),
      WARDEN_LOG_LEVEL: process.env.WARDEN_LOG_LEVEL ?? "warn",
    },
  });
  const noop = startProcess({
    name: "bench-noop",
    command: process.execPath,
    args: [join(REPO_ROOT, "dist/bench/noop-check-server.js"), `127.0.0.1:${noopPort}`],
  });
  await waitFor("authz ready", async () => (await fetch(`http://127.0.0.1:${statusPort}/readyz`)).ok);
  await noop.waitForPort(noopPort);

  const message = realisticCheckRequestObject(AGENT);
  const base = await measure("noop", noopPort, message);
  const ours = await measure("authz-server", authzPort, message);
  if (ours.allowed !== requests)
    throw new Error(`authz-server allowed ${ours.allowed}/${requests}: the request should pass the policy`);
  console.log(
    `BENCH check-latency noop_p50_us=${Math.round(base.p50)} noop_p99_us=${Math.round(base.p99)} authz_p50_us=${Math.round(ours.p50)} authz_p99_us=${Math.round(ours.p99)} p50_ratio=${(ours.p50 / base.p50).toFixed(2)} p99_ratio=${(ours.p99 / base.p99).toFixed(2)}`,
  );
} finally {
  await stopAll();
}
