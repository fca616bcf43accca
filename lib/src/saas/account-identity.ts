/**
 * Which provider account a connection is about to link, for the user to confirm (RFC 9700 §4.7,
 * account linking): the subject, e-mail and name from an OIDC ID token or a userinfo-like answer.
 * Pure. The ID token's signature is not checked: it came straight from the token endpoint over a
 * verified TLS connection (OIDC Core §3.1.3.7 allows TLS validation in place of the signature), and
 * it is only displayed, never used to authorize anything.
 */
export interface AccountIdentity {
  subject: string | null;
  email: string | null;
  name: string | null;
}

const MAX = 256;

function text(value: unknown): string | null {
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  // Printable characters only: this is shown to a person.
  const printable = [...trimmed].every((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f);
  return trimmed !== "" && trimmed.length <= MAX && printable ? trimmed : null;
}

function first(record: Record<string, unknown>, names: readonly string[]): string | null {
  for (const name of names) {
    if (!Object.hasOwn(record, name)) continue;
    const value = text(record[name]);
    if (value !== null) return value;
  }
  return null;
}

/** From OIDC claims, GitHub's `/user`, Microsoft Graph `/me`, or Drive's `about` (`{user: {...}}`). */
export function identityFromClaims(claims: Record<string, unknown>): AccountIdentity | null {
  const nested =
    Object.hasOwn(claims, "user") && claims.user !== null && typeof claims.user === "object"
      ? (claims.user as Record<string, unknown>)
      : null;
  const sources = nested ? [claims, nested] : [claims];
  const pick = (names: readonly string[]) => {
    for (const source of sources) {
      const value = first(source, names);
      if (value !== null) return value;
    }
    return null;
  };
  const identity: AccountIdentity = {
    subject: pick(["sub", "id", "login", "permissionId", "user_id"]),
    email: pick(["email", "emailAddress", "userPrincipalName", "mail", "preferred_username"]),
    name: pick(["name", "displayName", "login"]),
  };
  return (identity.subject ?? identity.email ?? identity.name) ? identity : null;
}

/** The claims of a compact JWS/JWT (payload only), or null when it is not one. */
export function idTokenClaims(idToken: string): Record<string, unknown> | null {
  const parts = idToken.split(".");
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as unknown;
    return claims !== null && typeof claims === "object" && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
