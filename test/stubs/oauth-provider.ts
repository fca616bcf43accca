import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "../../lib/src/runtime/layout.js";
import type { SeenRequest } from "./upstream.js";

/**
 * A stand-in for a Google-like OAuth 2.0 provider and its API (a third party), on loopback, plain
 * HTTP, in one server:
 *
 *   GET  /authorize     consent is given at once: 302 to redirect_uri with code and state (PKCE S256 required)
 *   POST /token         authorization_code (checks client, redirect_uri, code_verifier) and refresh_token
 *                       (rotates the refresh token: the old one stops working)
 *   POST /revoke        RFC 7009
 *   GET  /userinfo      the account a token belongs to ({sub, email, name}); the consenting account is
 *                       `login_hint` on /authorize (who is signed in at the provider), else "ursula"
 *   GET  /drive/v3/files    needs a live access token (Bearer), else 401 in Google's shape
 *   GET  /drive/v3/about    the same, and echoes the token fields back (a provider that leaks them)
 *   POST /drive/v3/files    write (needs a live token)
 *
 * Every API request is recorded with its headers, so a test can check which token reached the API.
 */
export interface OAuthProviderStubOptions {
  clientId: string;
  clientSecret: string;
}

interface Issued {
  expiresAt: number;
  revoked: boolean;
}

export interface OAuthProviderStub {
  readonly url: string;
  readonly port: number;
  /** API requests (not OAuth endpoint calls). */
  readonly requests: SeenRequest[];
  /** Every access and refresh token ever issued (for scans of logs and stores). */
  readonly issued: string[];
  readonly counts: { codeExchanges: number; refreshes: number; revocations: number; authorizes: number };
  /** Lifetime (`expires_in`) of the access tokens issued from now on. */
  accessTtlSeconds: number;
  /** Added to every refresh answer (provider latency). */
  refreshDelayMs: number;
  /** Refreshes are refused with invalid_grant (the user revoked the app at the provider). */
  refuseRefresh: boolean;
  /** The consent page answers `error=access_denied`. */
  denyConsent: boolean;
  /** Misbehaviours: the token or revocation endpoint answers 307 to this URL. */
  tokenRedirect: string | null;
  revokeRedirect: string | null;
  /** The token endpoint answers 200 with a JSON body this large (streamed; never held in memory). */
  tokenResponseBytes: number;
  /** ... without Content-Length (chunked), so only counting while reading can stop it. */
  tokenResponseChunked: boolean;
  /** `iss` added to the redirect back (RFC 9207); null: none. */
  callbackIss: string | null;
  /** Extra parameters on the redirect back, as real providers add (`authuser`, `prompt`, `hd`, …). */
  callbackExtras: Record<string, string>;
  /** Every live access token stops working (revoked at the provider): the API answers 401. */
  revokeAccessTokens(): void;
  /** The access token a request carried, if it was one we issued. */
  bearerOf(request: SeenRequest): string | null;
  isLiveAccessToken(token: string): boolean;
  close(): Promise<void>;
}

const challengeOf = (verifier: string) => createHash("sha256").update(verifier, "ascii").digest("base64url");
const token = (prefix: string) => `${prefix}${randomBytes(24).toString("base64url")}`;

export async function startOAuthProviderStub(options: OAuthProviderStubOptions): Promise<OAuthProviderStub> {
  const codes = new Map<
    string,
    { redirectUri: string; challenge: string; scope: string; used: boolean; account: string }
  >();
  const access = new Map<string, Issued>();
  const accountOf = new Map<string, string>();
  const refresh = new Map<string, Issued>();
  const requests: SeenRequest[] = [];
  const issued: string[] = [];
  const counts = { codeExchanges: 0, refreshes: 0, revocations: 0, authorizes: 0 };

  const stub: OAuthProviderStub = {
    url: "",
    port: 0,
    requests,
    issued,
    counts,
    accessTtlSeconds: 3600,
    refreshDelayMs: 0,
    refuseRefresh: false,
    denyConsent: false,
    tokenRedirect: null,
    revokeRedirect: null,
    tokenResponseBytes: 0,
    tokenResponseChunked: false,
    callbackIss: null,
    callbackExtras: {},
    revokeAccessTokens() {
      for (const entry of access.values()) entry.revoked = true;
    },
    bearerOf(request) {
      const header = request.headers.authorization;
      const value = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : null;
      return value !== null && access.has(value) ? value : null;
    },
    isLiveAccessToken(value) {
      const entry = access.get(value);
      return entry !== undefined && !entry.revoked && entry.expiresAt > Date.now();
    },
    close: async () => undefined,
  };

  function issue(scope: string, account = "ursula") {
    const accessToken = token("ya29.stub-");
    const refreshToken = token("1//stub-refresh-");
    accountOf.set(accessToken, account);
    access.set(accessToken, { expiresAt: Date.now() + stub.accessTtlSeconds * 1000, revoked: false });
    refresh.set(refreshToken, { expiresAt: Number.POSITIVE_INFINITY, revoked: false });
    issued.push(accessToken, refreshToken);
    return {
      access_token: accessToken,
      refresh_token: refreshToken,
      expires_in: stub.accessTtlSeconds,
      token_type: "Bearer",
      scope,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stub");
    if (req.method === "GET" && url.pathname === "/authorize") {
      counts.authorizes++;
      const q = url.searchParams;
      const redirect = q.get("redirect_uri");
      if (q.get("client_id") !== options.clientId || !redirect)
        return send(res, 400, { error: "invalid_request", error_description: "unknown client" });
      if (
        q.get("code_challenge_method") !== "S256" ||
        !q.get("code_challenge") ||
        q.get("response_type") !== "code"
      )
        return send(res, 400, {
          error: "invalid_request",
          error_description: "PKCE S256 and response_type=code required",
        });
      const back = new URL(redirect);
      back.searchParams.set("state", q.get("state") ?? "");
      if (stub.callbackIss !== null) back.searchParams.set("iss", stub.callbackIss);
      for (const [name, value] of Object.entries(stub.callbackExtras)) back.searchParams.set(name, value);
      if (stub.denyConsent) {
        back.searchParams.set("error", "access_denied");
      } else {
        const code = token("code-");
        codes.set(code, {
          redirectUri: redirect,
          challenge: q.get("code_challenge")!,
          scope: q.get("scope") ?? "",
          used: false,
          account: q.get("login_hint") ?? "ursula",
        });
        back.searchParams.set("code", code);
      }
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (req.method === "GET" && url.pathname === "/userinfo") {
      const header = req.headers.authorization ?? "";
      const account = accountOf.get(header.startsWith("Bearer ") ? header.slice(7) : "");
      if (!account || !stub.isLiveAccessToken(header.slice(7)))
        return send(res, 401, { error: "invalid_token" });
      return send(res, 200, { sub: `stub-${account}`, email: `${account}@example.com`, name: account });
    }
    if (req.method === "POST" && url.pathname === "/token" && stub.tokenRedirect !== null) {
      res.writeHead(307, { location: stub.tokenRedirect }).end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/revoke" && stub.revokeRedirect !== null) {
      res.writeHead(307, { location: stub.revokeRedirect }).end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/token" && stub.tokenResponseBytes > 0) {
      await streamHugeTokenResponse(res, stub.tokenResponseBytes, stub.tokenResponseChunked);
      return;
    }
    if (req.method === "POST" && (url.pathname === "/token" || url.pathname === "/revoke")) {
      const form = new URLSearchParams(body);
      if (form.get("client_id") !== options.clientId || form.get("client_secret") !== options.clientSecret)
        return send(res, 401, { error: "invalid_client" });
      if (url.pathname === "/revoke") {
        counts.revocations++;
        const value = form.get("token") ?? "";
        const entry = refresh.get(value) ?? access.get(value);
        if (entry) entry.revoked = true;
        if (refresh.has(value)) for (const a of access.values()) a.revoked = true;
        return send(res, 200, {});
      }
      if (form.get("grant_type") === "authorization_code") {
        counts.codeExchanges++;
        const grant = codes.get(form.get("code") ?? "");
        if (!grant || grant.used) return send(res, 400, { error: "invalid_grant" });
        grant.used = true;
        if (grant.redirectUri !== form.get("redirect_uri")) return send(res, 400, { error: "invalid_grant" });
        if (challengeOf(form.get("code_verifier") ?? "") !== grant.challenge)
          return send(res, 400, { error: "invalid_grant", error_description: "PKCE verification failed" });
        return send(res, 200, issue(grant.scope, grant.account));
      }
      if (form.get("grant_type") === "refresh_token") {
        counts.refreshes++;
        if (stub.refreshDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, stub.refreshDelayMs));
        const entry = refresh.get(form.get("refresh_token") ?? "");
        if (!entry || entry.revoked || stub.refuseRefresh) return send(res, 400, { error: "invalid_grant" });
        entry.revoked = true; // rotation: the old refresh token is used up
        return send(res, 200, issue("https://www.googleapis.com/auth/drive.readonly"));
      }
      return send(res, 400, { error: "unsupported_grant_type" });
    }
    // The API.
    requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
    const header = req.headers.authorization ?? "";
    const bearer = header.startsWith("Bearer ") ? header.slice(7) : "";
    if (!stub.isLiveAccessToken(bearer))
      return send(res, 401, {
        error: {
          code: 401,
          message: "Request had invalid authentication credentials.",
          status: "UNAUTHENTICATED",
        },
      });
    if (req.method === "GET" && url.pathname === "/drive/v3/files")
      return send(res, 200, {
        kind: "drive#fileList",
        files: [{ kind: "drive#file", id: "f1", name: "Q3 plan.docx" }],
      });
    if (req.method === "GET" && url.pathname === "/drive/v3/about")
      return send(res, 200, {
        kind: "drive#about",
        user: { displayName: "Ursula" },
        debug: { access_token: bearer, refresh_token: [...refresh.keys()].at(-1) ?? null },
      });
    if (req.method === "POST" && url.pathname === "/drive/v3/files")
      return send(res, 200, { kind: "drive#file", id: "f2", name: "notes.txt" });
    return send(res, 404, { error: { code: 404, message: `no route ${url.pathname}` } });
  }

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      handle(req, res, Buffer.concat(parts).toString("utf8")).catch(() =>
        send(res, 500, { error: "stub_failure" }),
      );
    });
  });
  // Longer than any idle gap in a test: Node closing a kept-alive connection while Envoy reuses it is a 503.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  Object.assign(stub, {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return stub;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" }).end(JSON.stringify(body));
}

/** `{"access_token":"xxxx…"}` of `bytes` bytes, written 1 MiB at a time with back-pressure. */
async function streamHugeTokenResponse(res: ServerResponse, bytes: number, chunked: boolean): Promise<void> {
  res.writeHead(200, {
    "content-type": "application/json",
    ...(chunked ? {} : { "content-length": String(bytes) }),
  });
  const head = '{"access_token":"';
  const tail = '"}';
  const chunk = Buffer.alloc(1024 * 1024, "x");
  let left = bytes - head.length - tail.length;
  res.write(head);
  while (left > 0 && !res.destroyed) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= part.length;
    if (!res.write(part)) await new Promise((resolve) => res.once("drain", resolve).once("close", resolve));
  }
  if (!res.destroyed) res.end(tail);
}

/**
 * The shipped SaaS catalogue with Google Drive's OAuth endpoints at this stub: what a deployment
 * does by configuration only (WARDEN_SAAS_CATALOGUE), for the demo and the connection suites.
 */
export function catalogueWithDriveAt(providerUrl: string): Record<string, Record<string, unknown>> {
  const shipped = JSON.parse(
    readFileSync(join(REPO_ROOT, "lib", "src", "saas", "services.json"), "utf8"),
  ) as Record<string, Record<string, unknown>>;
  shipped["google-drive"] = {
    ...shipped["google-drive"],
    authorize_url: `${providerUrl}/authorize`,
    token_url: `${providerUrl}/token`,
    revoke_url: `${providerUrl}/revoke`,
    userinfo_url: `${providerUrl}/userinfo`,
  };
  return shipped;
}
