import type { Queryable } from "../../../lib/src/db/types.js";

/**
 * Orders token issuance against revocation, so no token is issued after a revocation commits. One
 * transaction-scoped advisory lock: an exchange takes it shared for its last re-check, audit and
 * commit (exchanges run side by side); every revocation a token depends on (a delegation, an
 * agent's KYA attestation or status) takes it exclusive first thing in its transaction. A revocation
 * therefore waits only for the exchanges already in their last step, and an exchange that starts its
 * last step after the revocation sees it committed (READ COMMITTED reads after the lock is granted).
 *
 * Why not `SELECT … FOR SHARE` on the rows: PostgreSQL lets new share lockers join a row that an
 * UPDATE is waiting for, so a steady stream of exchanges starved a revocation for > 1 s in the race
 * test; the lock manager queues heavyweight locks fairly (a new shared request waits behind a
 * waiting exclusive one). Taken before any row or audit-chain lock on both sides: no deadlock.
 */
const ISSUANCE_LOCK_KEY = 0x5741_5244_454e_0017n; // "WARDEN" + 0x17; any fixed bigint works

export async function holdIssuance(tx: Queryable): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock_shared($1::bigint)", [ISSUANCE_LOCK_KEY.toString()]);
}

export async function holdRevocation(tx: Queryable): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [ISSUANCE_LOCK_KEY.toString()]);
}
