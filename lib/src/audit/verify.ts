import type { Queryable } from "../db/types.js";
import { ChainVerifier, type ChainHead, type ChainProblem } from "./chain.js";
import { AUDIT_SELECT, recordFromRow } from "./store.js";

export interface VerifyResult {
  ok: boolean;
  tenants: number;
  rows: number;
  /** The first row (per tenant, tenants in name order) that breaks the chain. */
  problem: ChainProblem | null;
}

/** Re-computes every tenant's chain (or one tenant's) from the stored rows, page by page. */
export async function verifyAuditChain(
  db: Queryable,
  options: { tenant?: string; pageSize?: number } = {},
): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? 1_000;
  const tenants =
    options.tenant !== undefined
      ? [options.tenant]
      : (
          await db.query<{ tenant: string }>(
            "SELECT tenant FROM audit_chain_heads UNION SELECT DISTINCT tenant FROM audit_events ORDER BY tenant",
          )
        ).rows.map((r) => r.tenant);
  let rows = 0;
  for (const tenant of tenants) {
    // The head first, then the rows up to it: a writer appends its rows and moves the head in one
    // transaction, so rows that commit while we read (a refusal audited just now) lie beyond this
    // head and are left for the next run, instead of reading as "rows missing at the end".
    const head = (
      await db.query<ChainHead>(
        "SELECT tenant, last_seq, last_hash FROM audit_chain_heads WHERE tenant = $1",
        [tenant],
      )
    ).rows[0];
    const upTo = head ? Number(head.last_seq) : Number.MAX_SAFE_INTEGER;
    const verifier = new ChainVerifier(tenant);
    let afterSeq = 0;
    for (;;) {
      const page = await db.query(
        `${AUDIT_SELECT} WHERE tenant = $1 AND chain_seq > $2 AND chain_seq <= $3 ORDER BY chain_seq LIMIT $4`,
        [tenant, afterSeq, upTo, pageSize],
      );
      for (const row of page.rows) {
        const problem = verifier.check(recordFromRow(row));
        if (problem) return { ok: false, tenants: tenants.length, rows: rows + verifier.rows, problem };
      }
      if (page.rows.length < pageSize) break;
      afterSeq = Number(page.rows[page.rows.length - 1]!.chain_seq);
    }
    const problem = verifier.finish(head) ?? (head ? await rowsBeyondHead(db, tenant) : null);
    rows += verifier.rows;
    if (problem) return { ok: false, tenants: tenants.length, rows, problem };
  }
  return { ok: true, tenants: tenants.length, rows, problem: null };
}

/**
 * Rows past the tenant's current head, read in one statement (one snapshot): never written by the
 * audit writer, which moves the head in the same transaction as its rows, so inserted by other means.
 */
async function rowsBeyondHead(db: Queryable, tenant: string): Promise<ChainProblem | null> {
  const beyond = await db.query<{ chain_seq: number; id: number; event_id: string }>(
    `SELECT e.chain_seq, e.id, e.event_id FROM audit_events e
       JOIN audit_chain_heads h ON h.tenant = e.tenant
      WHERE e.tenant = $1 AND e.chain_seq > h.last_seq
      ORDER BY e.chain_seq LIMIT 1`,
    [tenant],
  );
  const row = beyond.rows[0];
  if (!row) return null;
  return {
    tenant,
    kind: "head_mismatch",
    id: Number(row.id),
    event_id: row.event_id,
    chain_seq: Number(row.chain_seq),
    message: "a row lies beyond the chain head (written around the audit writer)",
  };
}
