import { WardenError } from "../../../lib/src/errors.js";
import { createLogger } from "../../../lib/src/logger.js";
import { loadSaasCatalogue } from "../../../lib/src/saas/catalogue.js";
import { OAuthProviderError } from "../../../lib/src/saas/oauth-client.js";
import type { PlainTokens, SealedTokens } from "../../../lib/src/saas/sealed-tokens.js";
import type { ConnectionKey, StoredTokens } from "../../../lib/src/saas/token-store.js";
import { KvCasConflictError } from "../../../lib/src/vault/kv.js";
import type { OAuthEvent } from "./events.js";
import type { TokenVault } from "./token-vault.js";
import { UserTokens, type Refresh } from "./user-tokens.js";

const drive = loadSaasCatalogue().service("google-drive")!;
const identity = {
  decisionId: "d-1",
  agentSpiffeId: "spiffe://warden.local/agent/a",
  agentId: null,
  tenant: "acme",
  userId: "ursula",
  delegationId: "del-1",
  scopes: ["google-drive:read"],
};
const seal = (value: string) => `vault:v1:${Buffer.from(value).toString("base64")}`;
const unseal = (value: string) => Buffer.from(value.slice("vault:v1:".length), "base64").toString();

class MemoryVault implements TokenVault {
  stored: StoredTokens | null = null;
  writes = 0;
  /** Simulates another sidecar writing between our read and our write. */
  beforeWrite: (() => void) | null = null;

  put(access: string, refresh: string | null, expiresAt: Date): void {
    const sealed: SealedTokens = {
      access_token: seal(access),
      refresh_token: refresh === null ? null : seal(refresh),
      expires_at: expiresAt.toISOString(),
      scope: "drive.readonly",
      scopes: ["google-drive:read"],
      status: "active",
      updated_at: new Date(0).toISOString(),
    };
    this.stored = { sealed, version: (this.stored?.version ?? 0) + 1 };
  }
  read = async (_key: ConnectionKey) => {
    await Promise.resolve();
    return this.stored;
  };
  open = async (_tenant: string, sealed: SealedTokens, withRefresh: boolean) => ({
    accessToken: sealed.access_token === null ? null : unseal(sealed.access_token),
    refreshToken: withRefresh && sealed.refresh_token !== null ? unseal(sealed.refresh_token) : null,
  });
  seal = async (_tenant: string, tokens: PlainTokens, scopes: readonly string[]): Promise<SealedTokens> => ({
    access_token: seal(tokens.accessToken),
    refresh_token: tokens.refreshToken === null ? null : seal(tokens.refreshToken),
    expires_at: tokens.expiresAt?.toISOString() ?? null,
    scope: tokens.providerScope,
    scopes: [...scopes],
    status: "active",
    updated_at: new Date(0).toISOString(),
  });
  write = async (_key: ConnectionKey, sealed: SealedTokens, cas: number) => {
    this.beforeWrite?.();
    this.beforeWrite = null;
    if ((this.stored?.version ?? 0) !== cas) throw new KvCasConflictError("warden/data/oauth/x");
    this.writes++;
    this.stored = { sealed, version: cas + 1 };
    return cas + 1;
  };
  providerClient = async () => ({ client_id: "cid", client_secret: "secret" });
}

function setup(refresh: Refresh) {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const vault = new MemoryVault();
  const events: OAuthEvent[] = [];
  const marked: string[] = [];
  const tokens = new UserTokens({
    vault,
    events: { record: (event) => events.push(event) },
    logger: createLogger("user-tokens-test", "silent"),
    refreshMarginMs: 60_000,
    providerTimeoutMs: 500,
    cacheTtlMs: 30_000,
    http: { request: () => Promise.reject(new Error("the test's refresh stands in for the provider")) },
    refresh,
    markReconsent: async (key, reason) => {
      marked.push(`${key.service}: ${reason}`);
    },
    now: () => now,
  });
  return { vault, events, marked, tokens, at: (iso: string) => (now = Date.parse(iso)) };
}

let refreshCount = 0;
const rotatingRefresh: Refresh = async (_service, _client, refreshToken) => {
  refreshCount++;
  await new Promise((resolve) => setTimeout(resolve, 5));
  return {
    accessToken: `access-after-${refreshToken}-${refreshCount}`,
    refreshToken: `refresh-${refreshCount}`,
    expiresAt: new Date(Date.parse("2026-01-01T01:00:00Z")),
    providerScope: "drive.readonly",
  };
};

beforeEach(() => {
  refreshCount = 0;
});

test("a valid token is read once, then served synchronously from memory", async () => {
  const { vault, tokens } = setup(rotatingRefresh);
  vault.put("access-1", "refresh-0", new Date("2026-01-01T00:30:00Z"));
  expect(await tokens.tokenFor(drive, identity)).toBe("access-1");
  expect(tokens.tokenFor(drive, identity)).toBe("access-1");
  expect(refreshCount).toBe(0);
});

test("50 concurrent requests with an expiring token cause exactly one refresh, written with CAS", async () => {
  const { vault, tokens, events } = setup(rotatingRefresh);
  vault.put("access-old", "refresh-0", new Date("2026-01-01T00:00:30Z")); // inside the 60 s margin
  const all = await Promise.all(Array.from({ length: 50 }, () => tokens.tokenFor(drive, identity)));
  expect(new Set(all)).toEqual(new Set(["access-after-refresh-0-1"]));
  expect(refreshCount).toBe(1);
  expect(vault.writes).toBe(1);
  expect(vault.stored!.version).toBe(2);
  expect(unseal(vault.stored!.sealed.refresh_token!)).toBe("refresh-1");
  expect(events.filter((e) => e.kind === "token_refreshed")).toHaveLength(1);
  expect(JSON.stringify(events)).not.toContain("access-after");
});

test("losing the CAS race to another sidecar: its tokens are used, the rotated refresh token is kept", async () => {
  const { vault, tokens, events } = setup(rotatingRefresh);
  vault.put("access-old", "refresh-0", new Date("2026-01-01T00:00:10Z"));
  vault.beforeWrite = () =>
    vault.put("access-from-other-sidecar", "refresh-other", new Date("2026-01-01T01:00:00Z"));
  expect(await tokens.tokenFor(drive, identity)).toBe("access-from-other-sidecar");
  expect(unseal(vault.stored!.sealed.refresh_token!)).toBe("refresh-other");
  expect(events.find((e) => e.kind === "token_refreshed")?.details?.cas).toBe("lost_to_another_writer");
});

test("a refused refresh marks the connection as needing re-consent: 409 now and for every later request", async () => {
  const refused: Refresh = async () => {
    throw new OAuthProviderError(
      "invalid_grant",
      "Google Drive token refresh refused: invalid_grant (400)",
      400,
    );
  };
  const { vault, tokens, marked, events } = setup(refused);
  vault.put("access-old", "refresh-0", new Date("2026-01-01T00:00:10Z"));
  const first = await Promise.resolve(tokens.tokenFor(drive, identity)).catch((e: unknown) => e);
  expect(first).toBeInstanceOf(WardenError);
  expect((first as WardenError).code).toBe("reconsent_required");
  expect((first as WardenError).status).toBe(409);
  expect(vault.stored!.sealed.status).toBe("needs_reconsent");
  expect(vault.stored!.sealed.refresh_token).toBeNull();
  expect(marked).toHaveLength(1);
  expect(events.some((e) => e.kind === "token_refresh_failed")).toBe(true);
  const again = await Promise.resolve(tokens.tokenFor(drive, identity)).catch((e: unknown) => e);
  expect((again as WardenError).code).toBe("reconsent_required");
});

test("no connected account: 409 account_not_connected", async () => {
  const { tokens } = setup(rotatingRefresh);
  const error = await Promise.resolve(tokens.tokenFor(drive, identity)).catch((e: unknown) => e);
  expect((error as WardenError).code).toBe("account_not_connected");
});

test("a 401 for the cached token refreshes it, so the next request carries a new one", async () => {
  const { vault, tokens } = setup(rotatingRefresh);
  vault.put("access-1", "refresh-0", new Date("2026-01-01T00:30:00Z"));
  expect(await tokens.tokenFor(drive, identity)).toBe("access-1");
  await tokens.unauthorized(drive, identity, "access-1");
  expect(refreshCount).toBe(1);
  expect(tokens.tokenFor(drive, identity)).toBe("access-after-refresh-0-1");
});

test("the provider down while the token is still valid: the old token is used, not an error", async () => {
  const down: Refresh = async () => {
    throw new OAuthProviderError("unavailable", "Google Drive did not answer (TimeoutError)", 0);
  };
  const { vault, tokens } = setup(down);
  vault.put("access-still-ok", "refresh-0", new Date("2026-01-01T00:00:30Z"));
  expect(await tokens.tokenFor(drive, identity)).toBe("access-still-ok");
});

test("after the cache TTL Vault is asked again: a disconnected account is refused at once", async () => {
  const { vault, tokens, at } = setup(rotatingRefresh);
  vault.put("access-1", "refresh-0", new Date("2026-01-01T00:30:00Z"));
  expect(await tokens.tokenFor(drive, identity)).toBe("access-1");
  vault.stored = null;
  expect(tokens.tokenFor(drive, identity)).toBe("access-1");
  at("2026-01-01T00:00:31Z");
  const error = await Promise.resolve(tokens.tokenFor(drive, identity)).catch((e: unknown) => e);
  expect((error as WardenError).code).toBe("account_not_connected");
});
