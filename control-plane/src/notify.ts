import type { Queryable } from "../../lib/src/db/types.js";

/**
 * Change feed for the data plane: every registry or attestation change sends a NOTIFY on
 * `warden_registry` from inside its transaction, so listeners hear of it exactly when it commits.
 * The payload carries what enforcement needs at once (status, ids); listeners re-read the row for
 * the rest (payloads must stay under PostgreSQL's 8000-byte limit). Format: control-plane/README.md.
 */
export const REGISTRY_CHANNEL = "warden_registry";

export type RegistryNotification =
  | {
      v: 1;
      entity: "agent";
      op: "upsert";
      id: string;
      kind: "agent" | "mcp_server";
      spiffe_id: string;
      tenant: string;
      status: string;
      version: number;
    }
  | {
      v: 1;
      entity: "attestation";
      op: "upsert";
      id: string;
      agent_id: string;
      spiffe_id: string;
      tenant: string;
      status: string;
      expires_at: string | null;
      version: number;
    };

export async function notifyRegistry(tx: Queryable, notification: RegistryNotification): Promise<void> {
  await tx.query("SELECT pg_notify($1, $2)", [REGISTRY_CHANNEL, JSON.stringify(notification)]);
}
