import { createHash } from "node:crypto";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { z } from "zod";
import type { Secret } from "../../../lib/src/config.js";
import { newSecret } from "./crypto.js";
import type { SessionTokens } from "./session.js";

/**
 * The portal as an OIDC confidential client: authorization code with PKCE (S256), `state` bound to
 * the browser, `nonce` checked in the ID token, refresh before the access token runs out, and
 * RP-initiated logout. Every call to the identity provider is bounded in time.
 */
export interface OidcClientOptions {
  issuer: string;
  clientId: string;
  clientSecret: Secret;
  redirectUri: string;
  scope?: string;
  fetch?: typeof fetch;
}

const discoverySchema = z.object({
  issuer: z.string(),
  authorization_endpoint: z.string().url(),
  token_endpoint: z.string().url(),
  jwks_uri: z.string().url(),
  end_session_endpoint: z.string().url().optional(),
});
type Discovery = z.infer<typeof discoverySchema>;

const tokenResponse = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().positive(),
  refresh_token: z.string().min(1).optional(),
  id_token: z.string().min(1).optional(),
});

export class OidcError extends Error {
  constructor(
    message: string,
    /** true: the identity provider could not be reached (503), false: it refused (401). */
    readonly unavailable: boolean,
  ) {
    super(message);
    this.name = "OidcError";
  }
}

export interface AuthorizationRequest {
  url: string;
  state: string;
  codeVerifier: string;
  nonce: string;
}

export interface OidcClient {
  readonly issuer: string;
  authorizationRequest(): Promise<AuthorizationRequest>;
  exchangeCode(code: string, codeVerifier: string, nonce: string): Promise<SessionTokens>;
  refresh(tokens: SessionTokens): Promise<SessionTokens>;
  logoutUrl(tokens: SessionTokens, postLogoutRedirectUri: string): Promise<string | null>;
}

const TIMEOUT_MS = 10_000;

export function createOidcClient(options: OidcClientOptions): OidcClient {
  const doFetch = options.fetch ?? fetch;
  let discovered: Promise<Discovery> | undefined;
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;

  function discovery(): Promise<Discovery> {
    discovered ??= (async () => {
      const url = `${options.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
      const response = await doFetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) }).catch(() => null);
      if (!response?.ok) throw new OidcError("the identity provider is unavailable", true);
      const parsed = discoverySchema.safeParse(await response.json());
      if (!parsed.success) throw new OidcError("the identity provider's discovery document is invalid", true);
      return parsed.data;
    })().catch((error: unknown) => {
      discovered = undefined;
      throw error;
    });
    return discovered;
  }

  async function tokenCall(form: Record<string, string>, previous?: SessionTokens): Promise<SessionTokens> {
    const { token_endpoint } = await discovery();
    const response = await doFetch(token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({
        ...form,
        client_id: options.clientId,
        client_secret: options.clientSecret.reveal(),
      }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).catch(() => null);
    if (!response) throw new OidcError("the identity provider is unavailable", true);
    if (response.status >= 500) throw new OidcError("the identity provider is unavailable", true);
    const parsed = tokenResponse.safeParse(await response.json().catch(() => null));
    if (!response.ok || !parsed.success)
      throw new OidcError("the identity provider refused the sign-in", false);
    return {
      access_token: parsed.data.access_token,
      access_expires_at: Math.floor(Date.now() / 1000) + parsed.data.expires_in,
      refresh_token: parsed.data.refresh_token ?? previous?.refresh_token ?? null,
      id_token: parsed.data.id_token ?? previous?.id_token ?? null,
    };
  }

  return {
    issuer: options.issuer,
    async authorizationRequest() {
      const { authorization_endpoint } = await discovery();
      const state = newSecret();
      const nonce = newSecret();
      const codeVerifier = newSecret() + newSecret();
      const url = new URL(authorization_endpoint);
      url.search = new URLSearchParams({
        response_type: "code",
        client_id: options.clientId,
        redirect_uri: options.redirectUri,
        scope: options.scope ?? "openid",
        state,
        nonce,
        code_challenge: createHash("sha256").update(codeVerifier).digest("base64url"),
        code_challenge_method: "S256",
      }).toString();
      return { url: url.toString(), state, codeVerifier, nonce };
    },

    async exchangeCode(code, codeVerifier, nonce) {
      const tokens = await tokenCall({
        grant_type: "authorization_code",
        code,
        redirect_uri: options.redirectUri,
        code_verifier: codeVerifier,
      });
      if (!tokens.id_token) throw new OidcError("the identity provider sent no ID token", false);
      const { jwks_uri, issuer } = await discovery();
      keys ??= createRemoteJWKSet(new URL(jwks_uri), { timeoutDuration: 5_000 });
      try {
        const { payload } = await jwtVerify(tokens.id_token, keys, { issuer, audience: options.clientId });
        if (payload.nonce !== nonce) throw new Error("nonce mismatch");
      } catch {
        throw new OidcError("the identity provider's ID token is not valid for this sign-in", false);
      }
      return tokens;
    },

    async refresh(tokens) {
      if (!tokens.refresh_token) throw new OidcError("the session cannot be renewed", false);
      return tokenCall({ grant_type: "refresh_token", refresh_token: tokens.refresh_token }, tokens);
    },

    async logoutUrl(tokens, postLogoutRedirectUri) {
      const { end_session_endpoint } = await discovery().catch(() => ({ end_session_endpoint: undefined }));
      if (!end_session_endpoint) return null;
      const url = new URL(end_session_endpoint);
      url.search = new URLSearchParams({
        client_id: options.clientId,
        post_logout_redirect_uri: postLogoutRedirectUri,
        ...(tokens.id_token ? { id_token_hint: tokens.id_token } : {}),
      }).toString();
      return url.toString();
    },
  };
}
