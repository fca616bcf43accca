import { z } from "zod";

/**
 * The revocation feed between the control plane and the data plane: every revocation sends, inside
 * its transaction, `pg_notify('warden_delegations', <notice>)`, so sidecars hear it exactly when it
 * commits. A notice lists the revoked ids with their expiry when there are few; otherwise it names
 * what was revoked (`by` + tenant/user/agent, and `revoked_at`) and listeners read back exactly those
 * rows. Payloads stay far below PostgreSQL's 8000-byte limit.
 */
export const DELEGATIONS_CHANNEL = "warden_delegations";
/** Ids listed inline at most; a larger revocation is announced by its selector. */
export const MAX_INLINE_IDS = 100;

export const revocationNotice = z.object({
  v: z.literal(1),
  op: z.literal("revoked"),
  by: z.enum(["delegation", "user", "agent", "tenant", "token"]),
  tenant: z.string().min(1),
  user_id: z.string().min(1).optional(),
  agent_spiffe_id: z.string().min(1).optional(),
  /** When the revocation happened; every row it revoked has exactly this `revoked_at`. */
  revoked_at: z.string().datetime({ offset: true }).optional(),
  /** [id, expiry in seconds since the epoch] of each revoked delegation or access token. */
  ids: z
    .array(z.tuple([z.string().uuid(), z.number()]))
    .max(MAX_INLINE_IDS)
    .optional(),
});

export type RevocationNotice = z.infer<typeof revocationNotice>;

export function parseRevocationNotice(payload: string): RevocationNotice | undefined {
  try {
    const parsed = revocationNotice.safeParse(JSON.parse(payload));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
