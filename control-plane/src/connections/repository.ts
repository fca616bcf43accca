import type { Queryable } from "../../../lib/src/db/types.js";
import type { ConnectionStatus } from "../../../lib/src/saas/sealed-tokens.js";

export interface ConnectionRow {
  id: string;
  tenant: string;
  user_id: string;
  service: string;
  status: ConnectionStatus;
  scopes: string[];
  provider_scopes: string;
  expires_at: Date | null;
  connected_at: Date;
  updated_at: Date;
  revoked_at: Date | null;
  status_reason: string | null;
}

export interface StateRow {
  tenant: string;
  user_id: string;
  service: string;
  scopes: string[];
  code_verifier: string;
  redirect_uri: string;
  expires_at: Date;
  used_at: Date | null;
  /** SHA-256 of the browser-binding nonce (null: a flow started before bindings existed). */
  browser_binding: string | null;
}

/** A callback that got tokens, waiting for the same user and browser to confirm the account. */
export interface PendingLinkRow extends StateRow {
  state_hash: string;
  link_id: string;
  pending_tokens: string;
  pending_account: Record<string, string | null> | null;
  pending_provider_scopes: string;
  pending_expires_at: Date;
}

const COLUMNS =
  "id, tenant, user_id, service, status, scopes, provider_scopes, expires_at, connected_at, updated_at, revoked_at, status_reason";

export async function insertState(
  db: Queryable,
  hash: string,
  row: Omit<StateRow, "used_at">,
  now: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO oauth_connect_states (state_hash, tenant, user_id, service, scopes, code_verifier, redirect_uri, created_at, expires_at, browser_binding)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10)`,
    [
      hash,
      row.tenant,
      row.user_id,
      row.service,
      JSON.stringify(row.scopes),
      row.code_verifier,
      row.redirect_uri,
      now,
      row.expires_at,
      row.browser_binding,
    ],
  );
  // Expired states are of no use to anyone; dropped as new ones come.
  await db.query(
    "DELETE FROM oauth_connect_states WHERE expires_at < $1 AND (pending_expires_at IS NULL OR pending_expires_at < $1)",
    [new Date(now.getTime() - 86_400_000)],
  );
}

/** The state's row, marked used in the same statement's transaction (the caller holds it). */
export async function takeState(tx: Queryable, hash: string, now: Date): Promise<StateRow | undefined> {
  const { rows } = await tx.query<StateRow>(
    `SELECT tenant, user_id, service, scopes, code_verifier, redirect_uri, expires_at, used_at, browser_binding
       FROM oauth_connect_states WHERE state_hash = $1 FOR UPDATE`,
    [hash],
  );
  const row = rows[0];
  if (row && row.used_at === null)
    await tx.query("UPDATE oauth_connect_states SET used_at = $2 WHERE state_hash = $1", [hash, now]);
  return row;
}

/** Keeps the sealed tokens and the account found, until the user confirms (or the link expires). */
export async function holdPendingLink(
  db: Queryable,
  hash: string,
  pending: {
    link_id: string;
    tokens: string;
    account: Record<string, string | null> | null;
    provider_scopes: string;
    expires_at: Date;
  },
): Promise<void> {
  await db.query(
    `UPDATE oauth_connect_states
        SET link_id = $2, pending_tokens = $3, pending_account = $4::jsonb, pending_provider_scopes = $5, pending_expires_at = $6
      WHERE state_hash = $1`,
    [
      hash,
      pending.link_id,
      pending.tokens,
      pending.account === null ? null : JSON.stringify(pending.account),
      pending.provider_scopes,
      pending.expires_at,
    ],
  );
}

/**
 * Forgets the pending tokens and the link (a link is confirmed once); the used state stays until the
 * expiry sweep, so a replayed callback is still told `state_replayed`.
 */
export async function clearPendingLink(tx: Queryable, linkId: string): Promise<void> {
  await tx.query(
    `UPDATE oauth_connect_states
        SET link_id = NULL, pending_tokens = NULL, pending_account = NULL, pending_provider_scopes = NULL
      WHERE link_id = $1::uuid`,
    [linkId],
  );
}

/** The pending link without removing it (a refusal must not let someone else's request destroy it). */
export async function findPendingLink(tx: Queryable, linkId: string): Promise<PendingLinkRow | undefined> {
  const { rows } = await tx.query<PendingLinkRow>(
    `SELECT state_hash, tenant, user_id, service, scopes, code_verifier, redirect_uri, expires_at, used_at,
            browser_binding, link_id, pending_tokens, pending_account, pending_provider_scopes, pending_expires_at
       FROM oauth_connect_states WHERE link_id = $1::uuid AND pending_tokens IS NOT NULL FOR UPDATE`,
    [linkId],
  );
  return rows[0];
}

export async function upsertConnection(
  tx: Queryable,
  row: Omit<ConnectionRow, "revoked_at" | "status_reason" | "updated_at" | "connected_at">,
  now: Date,
): Promise<ConnectionRow> {
  const { rows } = await tx.query<ConnectionRow>(
    `INSERT INTO oauth_connections (id, tenant, user_id, service, status, scopes, provider_scopes, expires_at, connected_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $9)
     ON CONFLICT (tenant, user_id, service) DO UPDATE
       SET status = EXCLUDED.status, scopes = EXCLUDED.scopes, provider_scopes = EXCLUDED.provider_scopes,
           expires_at = EXCLUDED.expires_at, connected_at = EXCLUDED.connected_at, updated_at = EXCLUDED.updated_at,
           revoked_at = NULL, status_reason = NULL, version = oauth_connections.version + 1
     RETURNING ${COLUMNS}`,
    [
      row.id,
      row.tenant,
      row.user_id,
      row.service,
      row.status,
      JSON.stringify(row.scopes),
      row.provider_scopes,
      row.expires_at,
      now,
    ],
  );
  return rows[0]!;
}

export async function findConnection(
  db: Queryable,
  key: { tenant: string; user_id: string; service: string },
  forUpdate = false,
): Promise<ConnectionRow | undefined> {
  const { rows } = await db.query<ConnectionRow>(
    `SELECT ${COLUMNS} FROM oauth_connections WHERE tenant = $1 AND user_id = $2 AND service = $3${forUpdate ? " FOR UPDATE" : ""}`,
    [key.tenant, key.user_id, key.service],
  );
  return rows[0];
}

export async function listConnections(
  db: Queryable,
  filter: { tenant: string; user_id?: string | undefined },
): Promise<ConnectionRow[]> {
  const { rows } = await db.query<ConnectionRow>(
    `SELECT ${COLUMNS} FROM oauth_connections
      WHERE tenant = $1 AND ($2::text IS NULL OR user_id = $2)
      ORDER BY user_id, service LIMIT 1000`,
    [filter.tenant, filter.user_id ?? null],
  );
  return rows;
}

export async function markRevoked(
  tx: Queryable,
  id: string,
  reason: string,
  now: Date,
): Promise<ConnectionRow> {
  const { rows } = await tx.query<ConnectionRow>(
    `UPDATE oauth_connections SET status = 'revoked', revoked_at = $2, updated_at = $2, status_reason = $3, version = version + 1
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, now, reason],
  );
  return rows[0]!;
}
