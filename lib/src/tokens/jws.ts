import { createPublicKey, verify, type KeyObject } from "node:crypto";

/**
 * Compact JWS (ECDSA) verification with node:crypto, synchronous, so the data plane can verify a
 * token inside a Check without an await. Keys come from a JWKS (the control plane's
 * `/.well-known/jwks.json`); JOSE ECDSA signatures are raw r||s (`ieee-p1363`).
 */
export type JwsAlgorithm = "ES256" | "ES384" | "ES512";

const HASH_OF: Record<JwsAlgorithm, string> = { ES256: "sha256", ES384: "sha384", ES512: "sha512" };
const CURVE_OF: Record<JwsAlgorithm, string> = { ES256: "P-256", ES384: "P-384", ES512: "P-521" };

export interface VerificationKey {
  kid: string;
  alg: JwsAlgorithm;
  key: KeyObject;
}

export interface CompactJws {
  header: Record<string, unknown>;
  payload: unknown;
  signingInput: string;
  signature: Buffer;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function decodeJson(segment: string): unknown {
  return JSON.parse(Buffer.from(segment, "base64url").toString("utf8")) as unknown;
}

/** Splits and decodes a compact JWS; undefined when it is not one. Nothing is trusted yet. */
export function parseCompactJws(token: string): CompactJws | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return undefined;
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  try {
    const header = decodeJson(headerPart);
    if (typeof header !== "object" || header === null || Array.isArray(header)) return undefined;
    return {
      header: header as Record<string, unknown>,
      payload: decodeJson(payloadPart),
      signingInput: `${headerPart}.${payloadPart}`,
      signature: Buffer.from(signaturePart, "base64url"),
    };
  } catch {
    return undefined;
  }
}

/** True when `jws` is signed by `key` with the key's algorithm (the header must name the same one). */
export function verifyJwsSignature(jws: CompactJws, key: VerificationKey): boolean {
  if (jws.header.alg !== key.alg) return false;
  try {
    return verify(
      HASH_OF[key.alg],
      Buffer.from(jws.signingInput),
      { key: key.key, dsaEncoding: "ieee-p1363" },
      jws.signature,
    );
  } catch {
    return false;
  }
}

export interface PublicJwkLike {
  kty?: unknown;
  crv?: unknown;
  x?: unknown;
  y?: unknown;
  kid?: unknown;
  alg?: unknown;
  use?: unknown;
}

/** The usable ECDSA signing keys of a JWKS by `kid`; keys of other kinds or uses are skipped. */
export function verificationKeysFromJwks(jwks: { keys?: unknown }): Map<string, VerificationKey> {
  const keys = new Map<string, VerificationKey>();
  for (const raw of Array.isArray(jwks.keys) ? (jwks.keys as PublicJwkLike[]) : []) {
    if (typeof raw !== "object" || raw === null) continue;
    const alg = raw.alg as JwsAlgorithm;
    if (typeof raw.kid !== "string" || !Object.hasOwn(HASH_OF, alg) || raw.kty !== "EC") continue;
    if (raw.use !== undefined && raw.use !== "sig") continue;
    if (raw.crv !== CURVE_OF[alg] || typeof raw.x !== "string" || typeof raw.y !== "string") continue;
    try {
      const key = createPublicKey({
        key: { kty: "EC", crv: raw.crv, x: raw.x, y: raw.y },
        format: "jwk",
      });
      keys.set(raw.kid, { kid: raw.kid, alg, key });
    } catch {
      // A malformed key is unusable; tokens naming it fail as signed by an unknown key.
    }
  }
  return keys;
}
