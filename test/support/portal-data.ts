import { normalizeAuditEvent, type AuditEntry } from "../../lib/src/audit/event.js";
import { appendAuditEntries } from "../../lib/src/audit/store.js";
import type { Database } from "../../lib/src/db/types.js";
import { insertBudget } from "../../control-plane/src/budgets/repository.js";

/**
 * The portal bench's data set (docs/benchmarks.md, Portal): agents and usage rows in bulk SQL
 * (multi-row INSERT from generate_series, seconds for 10,000 agents), audit events through the
 * audit store itself (appendAuditEntries: real hash chains, so chain verification passes), budgets
 * through the budgets repository. Run as the database owner on a fresh, migrated database.
 */
export interface PortalDataSize {
  agents: number;
  auditRows: number;
  usageRows: number;
  budgets: number;
  users: number;
  days: number;
}

export const PORTAL_DATA: PortalDataSize = {
  agents: 10_000,
  auditRows: 100_000,
  usageRows: 100_000,
  budgets: 40,
  users: 500,
  days: 30,
};

export const SEED_TENANTS: readonly string[] = ["acme", "globex", "initech", "umbrella"];
const TEAMS = ["support", "research", "sales", "platform", "finance"];
const AUDIT_BATCH = 2_000;

export interface SeededData {
  /** An agent with audit events and usage: the bench searches for it. */
  agent: { id: string; spiffe_id: string; tenant: string };
  user: string;
  trustDomain: string;
}

export interface SeedOptions {
  size?: PortalDataSize;
  trustDomain?: string;
  /** Plain slugs (they are written into the SQL text). */
  tenants?: readonly string[];
  now?: Date;
}

const spiffeOf = (trustDomain: string, i: number) => `spiffe://${trustDomain}/agent/bench-${i}`;
const userOf = (i: number, users: number) => `user-${i % users}`;

export async function seedPortalData(db: Database, options: SeedOptions = {}): Promise<SeededData> {
  const { size = PORTAL_DATA, trustDomain = "warden.local", now = new Date() } = options;
  const tenantList = options.tenants ?? SEED_TENANTS;
  if (!tenantList.every((t) => /^[a-z0-9][a-z0-9_-]{0,62}$/.test(t)))
    throw new Error("tenants must be slugs");
  const tenantOf = (i: number) => tenantList[i % tenantList.length]!;
  const tenants = `ARRAY[${tenantList.map((t) => `'${t}'`).join(",")}]`;
  const teams = `ARRAY[${TEAMS.map((t) => `'${t}'`).join(",")}]`;
  await db.query(
    `INSERT INTO tenants (id, display_name, signing_key, sealing_key, created_by)
     SELECT t, t, 'warden-tenant-' || t || '-signing', 'tenant-' || t, 'bench' FROM unnest(${tenants}) t
     ON CONFLICT DO NOTHING`,
  );
  await db.query(
    `INSERT INTO agents (name, kind, spiffe_id, tenant, owner, team, type, environment, created_by, created_at)
     SELECT 'bench-' || i, 'agent', 'spiffe://' || $1 || '/agent/bench-' || i,
            (${tenants})[1 + i % ${tenantList.length}], 'owner-' || (i % 50), (${teams})[1 + i % ${TEAMS.length}],
            'assistant', 'prod', 'bench', $2::timestamptz - (i || ' seconds')::interval
       FROM generate_series(0, $3 - 1) i`,
    [trustDomain, now, size.agents],
  );
  await db.query(
    `INSERT INTO llm_usage (event_id, tenant, occurred_at, agent_id, agent_spiffe_id, team, user_id, decision_id,
        provider, operation, model, stream, outcome, status, input_tokens, cached_input_tokens, cache_write_tokens,
        output_tokens, reasoning_tokens, usage_source, cost_pico_usd, latency_ms, recorded_by, record_seq)
     SELECT gen_random_uuid(), (${tenants})[1 + a % ${tenantList.length}],
            $2::timestamptz - ((i % ($3 * 24)) || ' hours')::interval, NULL,
            'spiffe://' || $1 || '/agent/bench-' || a, (${teams})[1 + a % ${TEAMS.length}], 'user-' || (i % $4),
            'd-' || i, 'openai', 'chat', 'gpt-4o-mini', false, 'completed', 200, 500 + i % 700, 0, 0, 200 + i % 300, 0,
            'body', (150000 * (500 + i % 700) + 600000 * (200 + i % 300))::bigint, 120, 'bench', i
       FROM generate_series(0, $5 - 1) i, LATERAL (SELECT (i * 7919) % $6 AS a) pick`,
    [trustDomain, now, size.days, size.users, size.usageRows, Math.min(size.agents, 2_000)],
  );
  const { rows } = await db.query<{ id: string; spiffe_id: string; tenant: string }>(
    "SELECT id, spiffe_id, tenant FROM agents WHERE spiffe_id = $1",
    [spiffeOf(trustDomain, 7)],
  );
  const agent = rows[0]!;
  await db.transaction(async (tx) => {
    for (let i = 0; i < size.budgets; i += 1) {
      await insertBudget(tx, {
        tenant: tenantOf(i),
        scope: i % 2 === 0 ? "team" : "user",
        subject: i % 2 === 0 ? `${TEAMS[i % TEAMS.length]}-${i}` : userOf(i, size.users),
        period: i % 3 === 0 ? "daily" : "monthly",
        limit_micros: BigInt(50 + i) * 1_000_000n,
        enforcement: i % 4 === 0 ? "soft" : "hard",
        description: `bench budget ${i}`,
        created_by: "bench",
        created_at: now,
      });
    }
  });
  const spanMs = size.days * 86_400_000;
  for (let start = 0; start < size.auditRows; start += AUDIT_BATCH) {
    const entries: AuditEntry[] = [];
    for (let i = start; i < Math.min(size.auditRows, start + AUDIT_BATCH); i += 1) {
      const a = (i * 7919) % size.agents;
      const decision = i % 10 < 7;
      entries.push(
        normalizeAuditEvent({
          tenant: tenantOf(a),
          occurred_at: new Date(now.getTime() - spanMs + (spanMs * i) / size.auditRows),
          source: decision ? "authz-server" : "extproc-server",
          action: decision ? "authz.decision" : "llm.request",
          actor: spiffeOf(trustDomain, a),
          agent_spiffe_id: spiffeOf(trustDomain, a),
          user_id: userOf(i, size.users),
          decision: decision ? (i % 13 === 0 ? "deny" : "allow") : null,
          reason: decision ? (i % 13 === 0 ? "scope_missing" : "allowed") : null,
          decision_id: `bench-${i}`,
          details: decision ? { status: i % 13 === 0 ? 403 : 200, policy_revision: "bench-r1" } : {},
        }),
      );
    }
    await db.transaction((tx) => appendAuditEntries(tx, entries, now, { fresh: true }).then(() => undefined));
  }
  await db.query("ANALYZE");
  return { agent, user: userOf(7, size.users), trustDomain };
}
