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

const TRUST_DOMAIN_CHARS_MESSAGE =
  "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores";
const PATH_SEGMENT_CHARS_MESSAGE =
  "path segment characters are limited to letters, numbers, dots, dashes, and underscores";

export function parseSpiffeId(text: string): SpiffeId {
  const pathStart = checkSpiffeId(text);
  if (typeof pathStart === "string") throw new SpiffeIdError(pathStart);
  return { trustDomain: text.slice(SCHEME_PREFIX.length, pathStart), path: text.slice(pathStart), id: text };
}

/**
 * `parseSpiffeId` without the exception, for the request path: an invalid ID is a normal input there
 * (a principal Envoy read from whatever certificate it was shown), and the check itself allocates
 * nothing (a character scan, no split, no regex).
 */
export function tryParseSpiffeId(text: string): SpiffeId | null {
  const pathStart = checkSpiffeId(text);
  if (typeof pathStart === "string") return null;
  return { trustDomain: text.slice(SCHEME_PREFIX.length, pathStart), path: text.slice(pathStart), id: text };
}

export function isSpiffeId(text: string): boolean {
  return typeof checkSpiffeId(text) === "number";
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
  const problem = trustDomainProblem(trustDomain, 0, trustDomain.length);
  if (problem) throw new SpiffeIdError(problem);
}

export function validatePathSegment(segment: string): void {
  const problem = pathSegmentProblem(segment, 0, segment.length);
  if (problem) throw new SpiffeIdError(problem);
}

/** Where the path starts in a valid SPIFFE ID (its length when there is none), or what is wrong. */
function checkSpiffeId(text: string): number | string {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit, so shorter text cannot exceed the limit.
  if (text.length > MAX_ID_BYTES / 3 && Buffer.byteLength(text) > MAX_ID_BYTES)
    return `SPIFFE ID is longer than ${MAX_ID_BYTES} bytes`;
  if (!text.startsWith(SCHEME_PREFIX)) return "scheme is missing or invalid (expected spiffe://)";
  const slash = text.indexOf("/", SCHEME_PREFIX.length);
  const pathStart = slash === -1 ? text.length : slash;
  const trustDomainProblemText = trustDomainProblem(text, SCHEME_PREFIX.length, pathStart);
  if (trustDomainProblemText) return trustDomainProblemText;
  if (pathStart === text.length) return pathStart;
  if (text.endsWith("/")) return "path cannot have a trailing slash";
  let segmentStart = pathStart + 1;
  while (segmentStart <= text.length) {
    const next = text.indexOf("/", segmentStart);
    const segmentEnd = next === -1 ? text.length : next;
    const problem = pathSegmentProblem(text, segmentStart, segmentEnd);
    if (problem) return problem;
    segmentStart = segmentEnd + 1;
  }
  return pathStart;
}

function trustDomainProblem(text: string, start: number, end: number): string | null {
  if (end === start) return "trust domain is missing";
  if (end - start > MAX_TRUST_DOMAIN_LENGTH)
    return `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`;
  for (let i = start; i < end; i++) {
    if (!isTrustDomainChar(text.charCodeAt(i))) return TRUST_DOMAIN_CHARS_MESSAGE;
  }
  return null;
}

function pathSegmentProblem(text: string, start: number, end: number): string | null {
  if (end === start) return "path cannot contain empty segments";
  const dots = end - start <= 2 && text.charCodeAt(start) === DOT && text.charCodeAt(end - 1) === DOT;
  if (dots) return "path cannot contain dot segments";
  for (let i = start; i < end; i++) {
    if (!isPathSegmentChar(text.charCodeAt(i))) return PATH_SEGMENT_CHARS_MESSAGE;
  }
  return null;
}

const DOT = 0x2e;

/** [a-z0-9._-] */
function isTrustDomainChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === DOT || c === 0x5f || c === 0x2d;
}

/** [a-zA-Z0-9._-] */
function isPathSegmentChar(c: number): boolean {
  return isTrustDomainChar(c) || (c >= 0x41 && c <= 0x5a);
}
