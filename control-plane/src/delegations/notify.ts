import type { Queryable } from "../../../lib/src/db/types.js";
import {
  DELEGATIONS_CHANNEL,
  MAX_INLINE_IDS,
  type RevocationNotice,
} from "../../../lib/src/tokens/revocation-notice.js";

/**
 * Announces revocations to the data plane from inside the revoking transaction (format:
 * lib/src/tokens/revocation-notice.ts). Small revocations list their ids, so sidecars apply them
 * without a read; large ones name their selector and sidecars re-read the revoked rows.
 */
export async function notifyRevocation(
  tx: Queryable,
  notice: Omit<RevocationNotice, "v" | "op" | "ids" | "revoked_at">,
  revoked: readonly { id: string; expires_at: Date }[],
  revokedAt: Date,
): Promise<void> {
  const payload: RevocationNotice = { v: 1, op: "revoked", ...notice, revoked_at: revokedAt.toISOString() };
  if (revoked.length <= MAX_INLINE_IDS)
    payload.ids = revoked.map((r) => [r.id, Math.ceil(r.expires_at.getTime() / 1000)]);
  await tx.query("SELECT pg_notify($1, $2)", [DELEGATIONS_CHANNEL, JSON.stringify(payload)]);
}
