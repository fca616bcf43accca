import { z } from "zod";
import { OutboundError, type OutboundClient } from "../http/outbound.js";
import type { SaasService } from "./catalogue.js";
import type { PlainTokens } from "./sealed-tokens.js";

/**
 * The OAuth 2.0 calls Warden makes to a provider: authorization-code exchange with the PKCE
 * verifier (RFC 6749 §4.1.3, RFC 7636), refresh (§6) and revocation (RFC 7009). The client id and
 * secret come from Vault (`warden/providers/<service>`); no token or secret is ever part of an error
 * message: a provider's error is reported by its `error` code only.
 */
export interface ProviderClient {
  client_id: string;
  client_secret: string;
}

export const providerClientSchema = z.object({
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
});

/**
 * `invalid_grant`: the provider refuses the grant for good (refresh token revoked or expired, code
 * used): the user must consent again. `unavailable`: the provider could not be reached or failed
 * (5xx): try again later. `refused`: any other refusal (misconfigured client). `bad_response`: the
 * provider answered something Warden does not read (a redirect, an oversized body, a non-public
 * address): nothing from it is used, and the grant itself is not judged (a 502 to our caller).
 */
export type OAuthFailure = "invalid_grant" | "unavailable" | "refused" | "bad_response";

export class OAuthProviderError extends Error {
  constructor(
    readonly failure: OAuthFailure,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "OAuthProviderError";
  }
}

const tokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/)]).optional(),
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
  id_token: z.string().min(1).max(16_384).optional(),
});

const errorResponse = z.object({ error: z.string() }).passthrough();

export interface OAuthCallOptions {
  /** The hardened client (lib/src/http/outbound.ts): no redirects, bounded answers, public targets. */
  http: OutboundClient;
  timeoutMs: number;
  now?: () => Date;
}

function clientAuth(
  service: SaasService,
  client: ProviderClient,
): { headers: Record<string, string>; params: Record<string, string> } {
  if (service.client_auth === "client_secret_basic") {
    const basic = Buffer.from(
      `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`,
    ).toString("base64");
    return { headers: { authorization: `Basic ${basic}` }, params: {} };
  }
  return { headers: {}, params: { client_id: client.client_id, client_secret: client.client_secret } };
}

async function postForm(
  url: string,
  service: SaasService,
  client: ProviderClient,
  params: Record<string, string>,
  options: OAuthCallOptions,
): Promise<{ status: number; body: unknown }> {
  const auth = clientAuth(service, client);
  const response = await call(service, options, {
    method: "POST",
    url,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      // GitHub answers form-encoded unless JSON is asked for.
      accept: "application/json",
      ...auth.headers,
    },
    body: new URLSearchParams({ ...params, ...auth.params }).toString(),
  });
  return { status: response.status, body: parseJson(response.body) };
}

async function call(
  service: SaasService,
  options: OAuthCallOptions,
  request: { method: "GET" | "POST"; url: string; headers: Record<string, string>; body?: string },
) {
  try {
    return await options.http.request({ ...request, timeoutMs: options.timeoutMs });
  } catch (error) {
    if (!(error instanceof OutboundError)) throw error;
    if (error.failure === "timeout" || error.failure === "unreachable")
      throw new OAuthProviderError(
        "unavailable",
        `${service.display_name} did not answer (${error.failure})`,
        0,
      );
    throw new OAuthProviderError(
      "bad_response",
      `${service.display_name}: ${error.message}`,
      error.failure === "redirect" ? 302 : 0,
    );
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return body.length ? (JSON.parse(body.toString("utf8")) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

function failure(service: SaasService, what: string, status: number, body: unknown): OAuthProviderError {
  const parsed = errorResponse.safeParse(body);
  const code = parsed.success ? parsed.data.error : null;
  if (status >= 500 || status === 429 || status === 0)
    return new OAuthProviderError(
      "unavailable",
      `${service.display_name} ${what} failed with ${status}`,
      status,
    );
  const kind: OAuthFailure = code === "invalid_grant" ? "invalid_grant" : "refused";
  // Only the error code: descriptions may quote what was sent.
  const safeCode = code && /^[a-z_]{1,64}$/.test(code) ? code : "unknown";
  return new OAuthProviderError(
    kind,
    `${service.display_name} ${what} refused: ${safeCode} (${status})`,
    status,
  );
}

function tokensFrom(
  service: SaasService,
  body: unknown,
  now: Date,
  previousRefresh: string | null,
): PlainTokens {
  const parsed = tokenResponse.safeParse(body);
  if (!parsed.success)
    throw new OAuthProviderError("refused", `${service.display_name} sent no usable token response`, 200);
  const { data } = parsed;
  const expiresIn = data.expires_in === undefined ? null : Number(data.expires_in);
  return {
    accessToken: data.access_token,
    // A provider that does not rotate refresh tokens leaves the old one valid (RFC 6749 §6).
    refreshToken: data.refresh_token ?? previousRefresh,
    expiresAt: expiresIn === null ? null : new Date(now.getTime() + expiresIn * 1000),
    providerScope: data.scope ?? "",
  };
}

/** What a code exchange yields: the tokens, and the OIDC ID token when the provider sent one. */
export interface CodeExchange {
  tokens: PlainTokens;
  idToken: string | null;
}

export async function exchangeAuthorizationCode(
  service: SaasService,
  client: ProviderClient,
  grant: { code: string; redirectUri: string; codeVerifier: string },
  options: OAuthCallOptions,
): Promise<CodeExchange> {
  const { status, body } = await postForm(
    service.token_url,
    service,
    client,
    {
      grant_type: "authorization_code",
      code: grant.code,
      redirect_uri: grant.redirectUri,
      code_verifier: grant.codeVerifier,
    },
    options,
  );
  if (status !== 200) throw failure(service, "code exchange", status, body);
  const tokens = tokensFrom(service, body, (options.now ?? (() => new Date()))(), null);
  const parsed = tokenResponse.safeParse(body);
  return { tokens, idToken: parsed.success ? (parsed.data.id_token ?? null) : null };
}

/**
 * The provider's description of the account a token belongs to (OIDC userinfo, GitHub `/user`,
 * Drive `about`), from the catalogue's `userinfo_url`; null when the service has none or the answer
 * is not a JSON object. Shown to the user before a connection is stored.
 */
export async function fetchUserinfo(
  service: SaasService,
  accessToken: string,
  options: OAuthCallOptions,
): Promise<Record<string, unknown> | null> {
  if (!service.userinfo_url) return null;
  const response = await call(service, options, {
    method: "GET",
    url: service.userinfo_url,
    headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
  });
  if (response.status !== 200) throw failure(service, "account lookup", response.status, undefined);
  const body = parseJson(response.body);
  return body !== null && typeof body === "object" && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : null;
}

export async function refreshAccessToken(
  service: SaasService,
  client: ProviderClient,
  refreshToken: string,
  options: OAuthCallOptions,
): Promise<PlainTokens> {
  const { status, body } = await postForm(
    service.token_url,
    service,
    client,
    { grant_type: "refresh_token", refresh_token: refreshToken },
    options,
  );
  if (status !== 200) throw failure(service, "token refresh", status, body);
  return tokensFrom(service, body, (options.now ?? (() => new Date()))(), refreshToken);
}

/** RFC 7009; true when the provider confirmed (200), false when the service has no revocation endpoint. */
export async function revokeToken(
  service: SaasService,
  client: ProviderClient,
  token: string,
  hint: "refresh_token" | "access_token",
  options: OAuthCallOptions,
): Promise<boolean> {
  if (!service.revoke_url) return false;
  const { status, body } = await postForm(
    service.revoke_url,
    service,
    client,
    { token, token_type_hint: hint },
    options,
  );
  // RFC 7009 §2.2: an invalid token is answered with 200 as well.
  if (status !== 200) throw failure(service, "revocation", status, body);
  return true;
}
