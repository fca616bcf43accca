import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { MIGRATIONS_DIR } from "../../../control-plane/src/files.js";
import { normalizeAuditEvent } from "../../../lib/src/audit/event.js";
import { appendAuditEntries } from "../../../lib/src/audit/store.js";
import { migrate } from "../../../lib/src/db/migrate.js";
import { createPostgresDatabase } from "../../../lib/src/db/postgres.js";
import type { Database } from "../../../lib/src/db/types.js";
import { startPostgres, type PostgresCluster } from "../../../test/harness/postgres.js";
import { Recorder, type SuiteRun } from "../results.js";
import { median, ratio } from "../stats.js";

/**
 * What row-level security (migration 029, docs/tenancy.md) costs the data plane's hot statements:
 * an audit append (chain head locked and moved, event inserted) as authz-server's login, a usage row
 * as extproc-server's, and the registry's full load (1,000 agents with their attestation) as the
 * data-plane login. Two databases on one cluster, migrated alike; in the baseline, RLS is switched
 * off on every table again. Alternating rounds, median per-statement time per system.
 */
const ROUNDS = Number(process.env.BENCH_RLS_ROUNDS ?? 6);
const WRITES = Number(process.env.BENCH_RLS_WRITES ?? 300);
const READS = Number(process.env.BENCH_RLS_READS ?? 20);
const AGENTS = 1_000;
const TENANTS = ["t1", "t2", "t3", "t4"];

const REGISTRY_READ = `
  SELECT a.id, a.tenant, a.status, k.status AS kya_status, t.status AS tenant_status
    FROM agents a
    LEFT JOIN LATERAL (SELECT id, status, jws FROM kya_attestations WHERE agent_id = a.id
                        ORDER BY status = 'approved' DESC, submitted_at DESC, id DESC LIMIT 1) k ON true
    LEFT JOIN tenants t ON t.id = a.tenant`;

interface Logins {
  authz: Database;
  extproc: Database;
}

async function prepare(
  cluster: PostgresCluster,
  withRls: boolean,
): Promise<{ logins: Logins; close(): Promise<void> }> {
  const url = await cluster.createDatabase(withRls ? "rls" : "norls");
  const name = new URL(url).pathname.slice(1);
  const owner = createPostgresDatabase(url, { max: 1 });
  await migrate(owner, MIGRATIONS_DIR);
  await owner.query(
    `INSERT INTO agents (name, kind, spiffe_id, tenant, owner, team, type, environment, created_by)
     SELECT 'a' || i, 'agent', 'spiffe://bench/agent/' || $1 || '-' || i, (ARRAY['t1','t2','t3','t4'])[1 + i % 4],
            'o', 't', 't', 'dev', 'bench' FROM generate_series(1, $2) i`,
    [name, AGENTS],
  );
  await owner.query(
    `INSERT INTO kya_attestations (agent_id, tenant, evidence, declared_capabilities, submitted_by)
     SELECT id, tenant, '{}', '[]', 'bench' FROM agents`,
  );
  if (!withRls) {
    const { rows } = await owner.query<{ t: string }>(
      "SELECT relname AS t FROM pg_class WHERE relrowsecurity AND relnamespace = 'public'::regnamespace",
    );
    for (const { t } of rows)
      await owner.exec(
        `ALTER TABLE ${t} NO FORCE ROW LEVEL SECURITY; ALTER TABLE ${t} DISABLE ROW LEVEL SECURITY`,
      );
  }
  await owner.close();
  const as = (login: string) => {
    const u = new URL(url);
    u.username = login;
    return createPostgresDatabase(u.toString(), { max: 1 });
  };
  const logins = { authz: as("bench_authz"), extproc: as("bench_extproc") };
  return {
    logins,
    close: async () => {
      await logins.authz.close();
      await logins.extproc.close();
    },
  };
}

async function timed(times: number, work: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < times; i += 1) await work(i);
  return ((performance.now() - started) * 1000) / times; // µs per statement
}

const operations: Record<string, { times: number; run: (l: Logins, i: number) => Promise<unknown> }> = {
  audit_append: {
    times: WRITES,
    run: (l, i) =>
      l.authz.transaction((tx) =>
        appendAuditEntries(
          tx,
          [
            normalizeAuditEvent({
              tenant: TENANTS[i % 4],
              occurred_at: new Date(),
              source: "authz-server",
              action: "authz.decision",
              decision: "allow",
            }),
          ],
          new Date(),
          { fresh: true },
        ),
      ),
  },
  usage_insert: {
    times: WRITES,
    run: (l, i) =>
      l.extproc.query(
        `INSERT INTO llm_usage (event_id, tenant, occurred_at, decision_id, provider, operation, stream, outcome, status,
           input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, usage_source,
           latency_ms, recorded_by, record_seq)
         VALUES ($1, $2, now(), 'd', 'openai', 'chat', false, 'completed', 200, 10, 0, 0, 10, 0, 'body', 1, 'bench', $3)`,
        [randomUUID(), TENANTS[i % 4], i],
      ),
  },
  registry_full_load: { times: READS, run: (l) => l.authz.query(REGISTRY_READ) },
};

export async function rlsSuite(): Promise<SuiteRun> {
  const recorder = new Recorder("rls");
  Object.assign(recorder.settings, {
    rounds: ROUNDS,
    writes_per_round: WRITES,
    reads_per_round: READS,
    agents: AGENTS,
  });
  const cluster = await startPostgres();
  try {
    const systems = { rls: await prepare(cluster, true), baseline: await prepare(cluster, false) };
    // Roles exist once the first database is migrated; create the logins then (cluster-wide).
    await cluster.sql(
      "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_authz') THEN CREATE ROLE bench_authz LOGIN IN ROLE warden_dataplane, warden_audit_writer; END IF; IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_extproc') THEN CREATE ROLE bench_extproc LOGIN IN ROLE warden_extproc; END IF; END $$",
    );
    const samples: Record<string, Record<string, number[]>> = {};
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [op, { times, run }] of Object.entries(operations)) {
        for (const [system, { logins }] of Object.entries(
          round % 2 ? systems : { baseline: systems.baseline, rls: systems.rls },
        )) {
          const us = await timed(times, (i) => run(logins, i));
          ((samples[op] ??= {})[system] ??= []).push(us);
        }
      }
    }
    const headline: Record<string, number | null> = {};
    for (const [op, bySystem] of Object.entries(samples)) {
      const rls = median(bySystem.rls!);
      const baseline = median(bySystem.baseline!);
      recorder.record(op, {
        rls_us: Math.round(rls),
        baseline_us: Math.round(baseline),
        ratio: ratio(rls, baseline),
      });
      headline[`${op}_ratio`] = ratio(rls, baseline);
    }
    await systems.rls.close();
    await systems.baseline.close();
    return await recorder.finish(headline);
  } finally {
    await cluster.destroy();
  }
}
