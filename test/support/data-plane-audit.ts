import { normalizeAuditEvent } from "../../lib/src/audit/event.js";
import { appendAuditEntries } from "../../lib/src/audit/store.js";
import type { Database } from "../../lib/src/db/types.js";

/**
 * Audit rows written as the data plane writes them (straight into the audit table, through the
 * same normalisation), for control-plane suites that react to data-plane decisions.
 */
export async function appendDataPlaneAudit(
  db: Database,
  events: readonly Record<string, unknown>[],
): Promise<void> {
  await db.transaction((tx) =>
    appendAuditEntries(
      tx,
      events.map((event) => normalizeAuditEvent(event)),
    ),
  );
}

/** authz-server refusing a certificate it does not trust (401): an identity failure of tenant acme. */
export function untrustedCertificateDenial(decisionId: string, extra: Record<string, unknown> = {}) {
  return {
    tenant: "acme",
    source: "authz-server",
    action: "authz.decision",
    decision: "deny",
    reason: "certificate_untrusted",
    decision_id: decisionId,
    details: { status: 401 },
    ...extra,
  };
}
