import { createHash, randomBytes } from "node:crypto";

/**
 * PKCE (RFC 7636, S256 only) and `state` values for the authorization-code flow. Pure apart from the
 * random source, so the shapes are tested without a provider.
 */
export interface PkcePair {
  verifier: string;
  challenge: string;
}

/** 32 random bytes → 43 base64url characters (RFC 7636 §4.1 asks for 43–128 of [A-Za-z0-9-._~]). */
export function newCodeVerifier(random: (size: number) => Buffer = randomBytes): string {
  return random(32).toString("base64url");
}

export function s256Challenge(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

export function newPkcePair(random?: (size: number) => Buffer): PkcePair {
  const verifier = newCodeVerifier(random);
  return { verifier, challenge: s256Challenge(verifier) };
}

export function newState(random: (size: number) => Buffer = randomBytes): string {
  return random(32).toString("base64url");
}

/** Only the hash of a state is stored: a leaked row cannot be replayed as a callback. */
export function stateHash(state: string): string {
  return createHash("sha256").update(state, "utf8").digest("hex");
}

export function authorizationUrl(
  endpoint: string,
  params: {
    clientId: string;
    redirectUri: string;
    scope: string;
    state: string;
    challenge: string;
    extra: Readonly<Record<string, string>>;
  },
): string {
  const url = new URL(endpoint);
  for (const [name, value] of Object.entries(params.extra)) url.searchParams.set(name, value);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", params.clientId);
  url.searchParams.set("redirect_uri", params.redirectUri);
  url.searchParams.set("scope", params.scope);
  url.searchParams.set("state", params.state);
  url.searchParams.set("code_challenge", params.challenge);
  url.searchParams.set("code_challenge_method", "S256");
  return url.toString();
}
