import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";

/**
 * DEVELOPMENT ONLY: a minimal OIDC issuer so `warden up` works out of the box on one machine. Local
 * accounts (oidc/accounts.json, 0600, made on first start) log in with the password grant at
 * POST /token and get an ES256 access token for the control plane. Production points
 * WARDEN_OIDC_ISSUER at the organisation's identity provider and does not run this.
 */
export const DEV_AUDIENCE = "warden-control-plane";
export const DEV_ADMIN = "admin";
export const DEV_REVIEWER = "reviewer";
/** An end user of tenant `default`: connects SaaS accounts and grants agents delegations. */
export const DEV_USER = "user";
const TOKEN_TTL_S = 3600;

export interface DevAccount {
  password: string;
  roles: string[];
  tenant?: string;
}

export function accountsFile(dir: string): string {
  return join(dir, "accounts.json");
}

/**
 * The accounts, made on first use: `admin` with every control-plane role, `reviewer` (KYA
 * approval is four-eyes: a reviewer cannot approve what they submitted), and `user`, an end user of
 * tenant `default` (delegating needs a token with the tenant claim).
 */
export function ensureAccounts(dir: string): Record<string, DevAccount> {
  const file = accountsFile(dir);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const accounts: Record<string, DevAccount> = {
      [DEV_ADMIN]: {
        password: randomBytes(18).toString("base64url"),
        roles: ["admin", "reviewer", "creator", "viewer", "user"],
      },
      [DEV_REVIEWER]: { password: randomBytes(18).toString("base64url"), roles: ["reviewer", "viewer"] },
      [DEV_USER]: { password: randomBytes(18).toString("base64url"), roles: ["user"], tenant: "default" },
    };
    writeFileSync(file, `${JSON.stringify(accounts, null, 2)}\n`, { mode: 0o600 });
  }
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, DevAccount>;
}

async function ensureKey(dir: string): Promise<JWK> {
  const file = join(dir, "signing-key.json");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(file)) {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = {
      ...(await exportJWK(privateKey)),
      kid: `dev-${randomBytes(4).toString("hex")}`,
      alg: "ES256",
    };
    writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  }
  return JSON.parse(readFileSync(file, "utf8")) as JWK;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of request as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > 16 * 1024) throw new Error("body too large");
    parts.push(part);
  }
  const text = Buffer.concat(parts).toString("utf8");
  if ((request.headers["content-type"] ?? "").includes("application/json")) {
    return new URLSearchParams(JSON.parse(text) as Record<string, string>);
  }
  return new URLSearchParams(text);
}

export interface DevIssuerOptions {
  /** The address it listens on; loopback unless a container network needs more. */
  host?: string;
  /** Its issuer URL, as the control plane reaches it (`iss` of its tokens, discovery). */
  issuer?: string;
}

export async function startDevIssuer(
  dir: string,
  port: number,
  options: DevIssuerOptions = {},
): Promise<Server> {
  const issuer = options.issuer ?? `http://127.0.0.1:${port}`;
  const privateJwk = await ensureKey(dir);
  // Made at start, so whoever runs it can read the passwords before the first login.
  ensureAccounts(dir);
  const key = await importJWK(privateJwk, "ES256");
  const { d: _d, ...publicJwk } = privateJwk;
  const send = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    response.end(JSON.stringify(body));
  };
  const server = createServer((request, response) => {
    void (async () => {
      const path = (request.url ?? "").split("?")[0];
      if (request.method === "GET" && path === "/.well-known/openid-configuration") {
        return send(response, 200, {
          issuer,
          jwks_uri: `${issuer}/jwks.json`,
          token_endpoint: `${issuer}/token`,
          grant_types_supported: ["password"],
          id_token_signing_alg_values_supported: ["ES256"],
          warden_development_only: true,
        });
      }
      if (request.method === "GET" && path === "/jwks.json") {
        return send(response, 200, { keys: [{ ...publicJwk, use: "sig" }] });
      }
      if (request.method === "GET" && path === "/healthz") return send(response, 200, { ok: true });
      if (request.method === "POST" && path === "/token") {
        const form = await readForm(request);
        const username = form.get("username") ?? "";
        const account = ensureAccounts(dir)[username];
        if (
          form.get("grant_type") !== "password" ||
          !account ||
          !same(account.password, form.get("password") ?? "")
        ) {
          return send(response, 401, {
            error: "invalid_grant",
            error_description: "wrong user name or password",
          });
        }
        const now = Math.floor(Date.now() / 1000);
        const token = await new SignJWT({
          roles: account.roles,
          ...(account.tenant ? { tenant: account.tenant } : {}),
        })
          .setProtectedHeader({ alg: "ES256", kid: String(privateJwk.kid), typ: "at+jwt" })
          .setIssuer(issuer)
          .setAudience(DEV_AUDIENCE)
          .setSubject(username)
          .setIssuedAt(now)
          .setExpirationTime(now + TOKEN_TTL_S)
          .sign(key);
        return send(response, 200, { access_token: token, token_type: "Bearer", expires_in: TOKEN_TTL_S });
      }
      send(response, 404, { error: "not_found" });
    })().catch(() => send(response, 400, { error: "invalid_request" }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, options.host ?? "127.0.0.1", resolve);
  });
  return server;
}
