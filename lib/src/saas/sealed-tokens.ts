import { z } from "zod";
import type { VaultClient } from "../vault/client.js";
import { VaultError } from "../vault/client.js";
import { isSafeKvSegment } from "../vault/kv.js";

/**
 * A user's OAuth tokens for one service as they rest in Vault KV v2 at
 * `<kv mount>/oauth/<tenant>/<user>/<service>`: the token values are transit ciphertext under the
 * tenant's key (`tenant-<tenant>`, `vault:v1:…`), so a KV read alone (a backup, a policy mistake)
 * yields no usable token; expiry, scopes and status are plain, for the cache and the refresh logic.
 */
export const CONNECTION_STATUSES = ["active", "needs_reconsent", "revoked"] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

export interface PlainTokens {
  accessToken: string;
  refreshToken: string | null;
  /** null: the provider did not say (GitHub OAuth apps: tokens do not expire). */
  expiresAt: Date | null;
  /** The provider scopes granted (space-separated, as the token response said). */
  providerScope: string;
}

export const sealedTokensSchema = z.object({
  access_token: z.string().startsWith("vault:").nullable(),
  refresh_token: z.string().startsWith("vault:").nullable(),
  expires_at: z.string().datetime({ offset: true }).nullable(),
  scope: z.string(),
  /** Our scope names the user connected with. */
  scopes: z.array(z.string()),
  status: z.enum(["active", "needs_reconsent"]),
  updated_at: z.string(),
});

export type SealedTokens = z.infer<typeof sealedTokensSchema>;

export function tenantTransitKey(tenant: string): string {
  return `tenant-${tenant}`;
}

const ENCODED_USER = "u64-";

/**
 * A user id as one KV path segment. OIDC subjects may hold `|`, `@` or `/`: those (and ids that
 * look encoded already) are written as `u64-<base64url>`, so no id can reach another user's folder.
 */
export function userPathSegment(userId: string): string {
  if (isSafeKvSegment(userId) && !userId.startsWith(ENCODED_USER)) return userId;
  return `${ENCODED_USER}${Buffer.from(userId, "utf8").toString("base64url")}`;
}

/** The KV path segments (below the mount) of a user's tokens for a service. */
export function oauthSecretPath(tenant: string, userId: string, service: string): string[] {
  return ["oauth", tenant, userPathSegment(userId), service];
}

const batchResponse = z.object({
  data: z.object({
    batch_results: z.array(
      z.object({
        ciphertext: z.string().optional(),
        plaintext: z.string().optional(),
        error: z.string().optional(),
      }),
    ),
  }),
});

/** One batch call to the tenant's transit key; each result's `field`, or a 502 with Vault's error. */
async function transitBatch(
  client: VaultClient,
  mount: string,
  tenant: string,
  operation: "encrypt" | "decrypt",
  batchInput: readonly object[],
): Promise<string[]> {
  const field = operation === "encrypt" ? "ciphertext" : "plaintext";
  const raw = await client.request(
    "POST",
    `${mount}/${operation}/${encodeURIComponent(tenantTransitKey(tenant))}`,
    { batch_input: batchInput },
  );
  return batchResponse.parse(raw).data.batch_results.map((result) => {
    const value = result[field];
    // An empty plaintext is an empty value; an empty ciphertext is no answer.
    if (value === undefined || (value === "" && field === "ciphertext"))
      throw new VaultError(`transit ${operation} failed: ${result.error ?? `no ${field}`}`, 502);
    return value;
  });
}

/** Encrypts values with the tenant's transit key (one call for all of them). */
export async function transitEncrypt(
  client: VaultClient,
  mount: string,
  tenant: string,
  values: readonly string[],
): Promise<string[]> {
  const batch = values.map((value) => ({ plaintext: Buffer.from(value, "utf8").toString("base64") }));
  return transitBatch(client, mount, tenant, "encrypt", batch);
}

export async function transitDecrypt(
  client: VaultClient,
  mount: string,
  tenant: string,
  ciphertexts: readonly string[],
): Promise<string[]> {
  const plaintexts = await transitBatch(
    client,
    mount,
    tenant,
    "decrypt",
    ciphertexts.map((ciphertext) => ({ ciphertext })),
  );
  return plaintexts.map((plaintext) => Buffer.from(plaintext, "base64").toString("utf8"));
}

export async function sealTokens(
  client: VaultClient,
  transitMount: string,
  tenant: string,
  tokens: PlainTokens,
  scopes: readonly string[],
  now: Date,
): Promise<SealedTokens> {
  const plain =
    tokens.refreshToken === null ? [tokens.accessToken] : [tokens.accessToken, tokens.refreshToken];
  const [access, refresh] = await transitEncrypt(client, transitMount, tenant, plain);
  return {
    access_token: access!,
    refresh_token: refresh ?? null,
    expires_at: tokens.expiresAt?.toISOString() ?? null,
    scope: tokens.providerScope,
    scopes: [...scopes],
    status: "active",
    updated_at: now.toISOString(),
  };
}

/** The access token (and, when asked, the refresh token) in plain text. */
export async function openTokens(
  client: VaultClient,
  transitMount: string,
  tenant: string,
  sealed: SealedTokens,
  withRefresh: boolean,
): Promise<{ accessToken: string | null; refreshToken: string | null }> {
  const wanted = [sealed.access_token, withRefresh ? sealed.refresh_token : null];
  const present = wanted.filter((value): value is string => value !== null);
  if (present.length === 0) return { accessToken: null, refreshToken: null };
  const opened = await transitDecrypt(client, transitMount, tenant, present);
  let at = 0;
  const next = (value: string | null) => (value === null ? null : (opened[at++] ?? null));
  return { accessToken: next(wanted[0] ?? null), refreshToken: next(wanted[1] ?? null) };
}
