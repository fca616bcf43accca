/**
 * SPIFFE IDs, validated exactly as the SPIFFE ID specification (spiffe/spiffe standards/SPIFFE-ID.md)
 * and go-spiffe's `spiffeid` package do: `spiffe://<trust domain><path>` with a lower-case trust domain
 * of [a-z0-9._-], path segments of [a-zA-Z0-9._-], no empty or dot segments, no trailing slash,
 * no query, fragment, port or user info, at most 2048 bytes.
 */
export interface SpiffeId {
  /** e.g. "warden.local" */
  readonly trustDomain: string;
  /** e.g. "/agent/research-bot"; empty for the trust domain's own ID */
  readonly path: string;
  /** the full ID, e.g. "spiffe://warden.local/agent/research-bot" */
  readonly id: string;
}

export class SpiffeIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpiffeIdError";
  }
}

const SCHEME_PREFIX = "spiffe://";
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const PATH_SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;

export function parseSpiffeId(text: string): SpiffeId {
  if (Buffer.byteLength(text) > MAX_ID_BYTES)
    throw new SpiffeIdError(`SPIFFE ID is longer than ${MAX_ID_BYTES} bytes`);
  if (!text.startsWith(SCHEME_PREFIX))
    throw new SpiffeIdError("scheme is missing or invalid (expected spiffe://)");
  const rest = text.slice(SCHEME_PREFIX.length);
  const slash = rest.indexOf("/");
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash);
  validateTrustDomain(trustDomain);
  validatePath(path);
  return { trustDomain, path, id: text };
}

export function isSpiffeId(text: string): boolean {
  try {
    parseSpiffeId(text);
    return true;
  } catch {
    return false;
  }
}

/** Accepts "warden.local" or "spiffe://warden.local" and returns the trust domain name. */
export function parseTrustDomain(text: string): string {
  if (text.includes(":/")) {
    const id = parseSpiffeId(text);
    if (id.path !== "") throw new SpiffeIdError(`"${text}" is a workload ID, not a trust domain`);
    return id.trustDomain;
  }
  validateTrustDomain(text);
  return text;
}

/** Builds and validates `spiffe://<trustDomain>/<segments...>`. */
export function spiffeIdFromSegments(trustDomain: string, ...segments: string[]): SpiffeId {
  validateTrustDomain(trustDomain);
  for (const segment of segments) validatePathSegment(segment);
  const path = segments.map((s) => `/${s}`).join("");
  return parseSpiffeId(`${SCHEME_PREFIX}${trustDomain}${path}`);
}

/** The trust domain's own SPIFFE ID, `spiffe://<trustDomain>`, as used for bundle keys. */
export function trustDomainId(trustDomain: string): string {
  validateTrustDomain(trustDomain);
  return `${SCHEME_PREFIX}${trustDomain}`;
}

function validateTrustDomain(trustDomain: string): void {
  if (trustDomain === "") throw new SpiffeIdError("trust domain is missing");
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH) {
    throw new SpiffeIdError(`trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`);
  }
  if (!TRUST_DOMAIN_CHARS.test(trustDomain)) {
    throw new SpiffeIdError(
      "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores",
    );
  }
}

function validatePath(path: string): void {
  if (path === "") return;
  if (path.endsWith("/")) throw new SpiffeIdError("path cannot have a trailing slash");
  for (const segment of path.slice(1).split("/")) validatePathSegment(segment);
}

export function validatePathSegment(segment: string): void {
  if (segment === "") throw new SpiffeIdError("path cannot contain empty segments");
  if (segment === "." || segment === "..") throw new SpiffeIdError("path cannot contain dot segments");
  if (!PATH_SEGMENT_CHARS.test(segment)) {
    throw new SpiffeIdError(
      "path segment characters are limited to letters, numbers, dots, dashes, and underscores",
    );
  }
}
