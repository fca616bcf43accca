import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { MIGRATIONS_DIR } from "../../../control-plane/src/files.js";
import { migrate } from "../../../lib/src/db/migrate.js";
import { createPostgresDatabase } from "../../../lib/src/db/postgres.js";
import { dataPlaneLogin } from "../../../test/harness/control-plane.js";
import { startPostgres } from "../../../test/harness/postgres.js";
import { stopAll, waitFor } from "../../../test/harness/process.js";
import { realisticCheckRequestBytes } from "../../fixtures/check-request.js";
import {
  BENCH_AGENT,
  checkClient,
  checkOnce,
  preparePolicyInputs,
  startWardenAuthz,
  type CheckServer,
} from "../check-servers.js";
import { newestProfile, summarizeProfile } from "../cpu-profile.js";
import { Recorder, SCRATCH_DIR, type SuiteRun } from "../results.js";
import { profileFields } from "./authz.js";
import { LOADGEN_CPU, pinningEnabled } from "../tools.js";
import { median, ratio } from "../stats.js";

/**
 * What auditing every decision costs authz-server (docs/security.md, "Audit and logs"): the same
 * authz-server twice, the shipped policy and an allowed LLM call (every allow is audited: the worst
 * case), once appending every decision to PostgreSQL through the audit writer and once without an
 * audit database. Saturation in alternating rounds, best round per system; and the server's own CPU
 * time per decision (from /proc, median over the rounds), which does not depend on whether the Node
 * load generator keeps up.
 * Needs only scripts/setup (PostgreSQL), no ghz. Finally every audited decision must be in the table.
 * authz-server is pinned to the server core as in the authz suite; PostgreSQL to the other core.
 */
// Many short rounds, and the median per system: on a shared machine bursts of other work land on
// whichever system is measured at the time; short alternating rounds spread them over all three.
const ROUNDS = Number(process.env.BENCH_AUDIT_ROUNDS ?? 10);
const ROUND_S = Number(process.env.BENCH_AUDIT_ROUND_S ?? 2);
const CONCURRENCY = Number(process.env.BENCH_AUDIT_CONCURRENCY ?? 64);
const CLK_TCK = 100;

function parentOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
}

/**
 * PostgreSQL on the load generator's core, off the server's: in production the database is another
 * machine, so its own work (parsing, indexes, WAL) must not be charged to authz-server's core.
 */
function pinPostgres(postmaster: number): void {
  if (!pinningEnabled()) return;
  const family = [postmaster];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      if (parentOf(pid) === postmaster) family.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  for (const pid of family) execFileSync("taskset", ["-a", "-p", "-c", LOADGEN_CPU, String(pid)]);
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the ") " split.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

interface Round {
  requests: number;
  rps: number;
  cpu_us_per_check: number;
}

async function saturate(server: CheckServer, message: Uint8Array, seconds: number): Promise<Round> {
  const client = checkClient(server.target);
  const pid = server.process.pid!;
  const cpuBefore = cpuMs(pid);
  const started = performance.now();
  const end = started + seconds * 1000;
  let requests = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const verdict = await checkOnce(client, message);
      if (!verdict.allowed) throw new Error(`${server.name} refused the bench request: ${verdict.code}`);
      requests += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = cpuMs(pid) - cpuBefore;
  client.close();
  return { requests, rps: requests / elapsedS, cpu_us_per_check: (cpu * 1000) / requests };
}

export async function auditSuite(options: { profile?: boolean } = {}): Promise<SuiteRun> {
  const recorder = new Recorder("audit");
  Object.assign(recorder.settings, {
    rounds: ROUNDS,
    round_s: ROUND_S,
    concurrency: CONCURRENCY,
    scenario: "llm-call (allowed; every allow audited)",
    load_generator: "node @grpc/grpc-js, one channel, closed loop",
  });
  const dir = mkdtempSync(join(tmpdir(), "warden-bench-audit-"));
  const cluster = await startPostgres();
  try {
    const url = await cluster.createDatabase();
    const owner = createPostgresDatabase(url);
    await migrate(owner, MIGRATIONS_DIR);
    const { rows: backend } = await owner.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    pinPostgres(parentOf(backend[0]!.pid));
    const inputs = await preparePolicyInputs(dir, 10);
    const profileDir = join(SCRATCH_DIR, `audit-profile-${Date.now()}`);
    if (options.profile) mkdirSync(profileDir, { recursive: true });
    const spawnedAt = Date.now();
    const audited = await startWardenAuthz({
      name: "bench-authz-audited",
      inputs,
      ...(options.profile ? { cpuProfileDir: profileDir } : {}),
      env: {
        WARDEN_AUDIT_DATABASE_URL: await dataPlaneLogin(cluster, url),
        WARDEN_AUDIT_SPOOL: join(dir, "audit-spool.ndjson"),
      },
    });
    const plain = await startWardenAuthz({ name: "bench-authz-no-audit", inputs });
    // The documented lever for operators who cannot afford it: allows sampled (denials never are).
    const sampled = await startWardenAuthz({
      name: "bench-authz-audit-sampled",
      inputs,
      env: {
        WARDEN_AUDIT_DATABASE_URL: await dataPlaneLogin(cluster, url),
        WARDEN_AUDIT_SPOOL: join(dir, "audit-spool-sampled.ndjson"),
        WARDEN_AUDIT_ALLOW_SAMPLE: "0.1",
      },
    });
    const systems: [string, CheckServer][] = [
      ["authz-server (audit off)", plain],
      ["authz-server (audit on)", audited],
      ["authz-server (audit on, allows sampled 0.1)", sampled],
    ];
    const message = realisticCheckRequestBytes(BENCH_AGENT, true, false);
    let auditedRequests = 0;
    const loadStartedAt = Date.now();
    for (const [, server] of systems) {
      const warm = await saturate(server, message, 2);
      if (server === audited) auditedRequests += warm.requests;
    }
    const best = new Map<string, Round>();
    const cpu = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, server] of systems) {
        const result = await saturate(server, message, ROUND_S);
        if (server === audited) auditedRequests += result.requests;
        recorder.record(name, { mode: "saturation-round", round, ...result });
        if ((best.get(name)?.rps ?? 0) < result.rps) best.set(name, result);
        cpu.set(name, [...(cpu.get(name) ?? []), result.cpu_us_per_check]);
      }
    }
    // Every decision of the audited server reaches the table (its queue drains after the load).
    let stored = 0;
    await waitFor(
      "every audited decision stored",
      async () => {
        const { rows } = await owner.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM audit_events WHERE action = 'authz.decision' AND NOT details ? 'allow_sample'",
        );
        stored = rows[0]!.n;
        return stored >= auditedRequests;
      },
      120_000,
    );
    const minCpu = (name: string) => Math.min(...(cpu.get(name) ?? [Infinity]));
    const medianCpu = (name: string) => median(cpu.get(name) ?? []);
    const off = "authz-server (audit off)";
    const on = "authz-server (audit on)";
    const onSampled = "authz-server (audit on, allows sampled 0.1)";
    for (const name of [off, on, onSampled])
      recorder.record(name, {
        mode: "saturation",
        ...best.get(name)!,
        min_cpu_us_per_check: minCpu(name),
        median_cpu_us_per_check: medianCpu(name),
      });
    const satRatio = ratio(best.get(on)?.rps, best.get(off)?.rps);
    const cpuRatio = ratio(medianCpu(on), medianCpu(off));
    await owner.close();
    await Promise.all(systems.map(([, server]) => server.stop()));
    if (options.profile) {
      // Where the audited server's time goes (start-up left out).
      const profile = summarizeProfile(newestProfile(profileDir), 25, loadStartedAt - spawnedAt);
      recorder.record("authz-server (audit on)", { mode: "cpu-profile", ...profileFields(profile) });
    }
    return await recorder.finish({
      sat_rps_audit_off: Math.round(best.get(off)?.rps ?? 0),
      sat_rps_audit_on: Math.round(best.get(on)?.rps ?? 0),
      sat_on_vs_off: satRatio,
      median_cpu_us_per_check_off: Math.round(medianCpu(off)),
      median_cpu_us_per_check_on: Math.round(medianCpu(on)),
      cpu_on_vs_off: cpuRatio,
      min_cpu_on_vs_off: ratio(minCpu(on), minCpu(off)),
      sat_sampled_vs_off: ratio(best.get(onSampled)?.rps, best.get(off)?.rps),
      cpu_sampled_vs_off: ratio(medianCpu(onSampled), medianCpu(off)),
      audited_decisions: auditedRequests,
      audit_rows: stored,
      // The server's own CPU per decision is the figure that holds on a loaded, shared machine; the
      // saturation ratio is reported beside it.
      target_cost_10pct_met: cpuRatio !== null && cpuRatio <= 1.1,
    });
  } finally {
    await cluster.destroy();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
