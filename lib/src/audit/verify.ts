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
    const verifier = new ChainVerifier(tenant);
    let afterSeq = 0;
    for (;;) {
      const page = await db.query(
        `${AUDIT_SELECT} WHERE tenant = $1 AND chain_seq > $2 ORDER BY chain_seq LIMIT $3`,
        [tenant, afterSeq, pageSize],
      );
      for (const row of page.rows) {
        const problem = verifier.check(recordFromRow(row));
        if (problem) return { ok: false, tenants: tenants.length, rows: rows + verifier.rows, problem };
      }
      if (page.rows.length < pageSize) break;
      afterSeq = Number(page.rows[page.rows.length - 1]!.chain_seq);
    }
    const head = await db.query<ChainHead>(
      "SELECT tenant, last_seq, last_hash FROM audit_chain_heads WHERE tenant = $1",
      [tenant],
    );
    const problem = verifier.finish(head.rows[0]);
    rows += verifier.rows;
    if (problem) return { ok: false, tenants: tenants.length, rows, problem };
  }
  return { ok: true, tenants: tenants.length, rows, problem: null };
}
