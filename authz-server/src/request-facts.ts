import { redactCredentialHeaders } from "../../lib/src/credentials.js";
import type { CheckRequest } from "../../lib/src/envoy/services.js";

/**
 * Step 1 of a decision: the plain facts of a CheckRequest, with credentials already redacted.
 * Nothing here is trusted for identity except `peer`, which Envoy fills from the verified TLS session.
 */
export interface RequestFacts {
  id: string;
  method: string;
  scheme: string;
  host: string;
  /** Path as the upstream will see it (the route's prefix removed), percent-decoded. */
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  /** Raw body text when Envoy forwarded it (routes that ask for it), else null. */
  bodyText: string | null;
  contentType: string;
  peer: { principal: string; certificate: string };
  /** Set by the Envoy route (never by the agent). */
  route: { service: string; kind: string; pathPrefix: string };
  /** Envoy's receive time, ns since epoch, or null. */
  timeNs: number | null;
}

export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadRequestError";
  }
}

function splitPath(rawPath: string): { path: string; query: string } {
  const q = rawPath.indexOf("?");
  const withoutFragment = (q === -1 ? rawPath : rawPath.slice(0, q)).split("#")[0] ?? "";
  return { path: withoutFragment, query: q === -1 ? "" : rawPath.slice(q + 1).split("#")[0]! };
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new BadRequestError("request path is not valid percent-encoded UTF-8");
  }
}

function parseQuery(query: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!query) return out;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query);
  } catch {
    throw new BadRequestError("request query string is malformed");
  }
  // Own properties only: `?constructor=x` or `?__proto__=x` are ordinary parameters (issue 17).
  for (const [key, value] of params) {
    const existing = Object.hasOwn(out, key) ? out[key] : undefined;
    if (existing === undefined)
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

export function requestFacts(check: CheckRequest): RequestFacts {
  const attributes = check.attributes;
  const http = attributes?.request?.http;
  const ext = attributes?.contextExtensions ?? {};
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(http?.headers ?? {})) {
    if (!name.startsWith(":")) headers[name.toLowerCase()] = value;
  }
  const { path: rawPath, query } = splitPath(http?.path ?? "/");
  const pathPrefix = ext.path_prefix ?? "";
  const decoded = decodePath(rawPath);
  const upstreamPath =
    pathPrefix && decoded.startsWith(pathPrefix)
      ? `/${decoded.slice(pathPrefix.length).replace(/^\/+/, "")}`
      : decoded;

  let bodyText: string | null = null;
  if (http?.rawBody && http.rawBody.length > 0) bodyText = Buffer.from(http.rawBody).toString("utf8");
  else if (http?.body) bodyText = http.body;

  const time = attributes?.request?.time;
  const timeNs = time?.seconds != null ? Number(time.seconds) * 1e9 + (time.nanos ?? 0) : null;

  return {
    id: http?.id ?? "",
    method: (http?.method ?? "").toUpperCase(),
    scheme: http?.scheme ?? "",
    host: (http?.host ?? "").toLowerCase(),
    path: upstreamPath,
    query: parseQuery(query),
    headers: redactCredentialHeaders(headers),
    bodyText,
    contentType: (headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase(),
    peer: {
      principal: attributes?.source?.principal ?? "",
      certificate: attributes?.source?.certificate ?? "",
    },
    route: { service: ext.service ?? "", kind: ext.kind ?? "", pathPrefix },
    timeNs,
  };
}

/** Parses a JSON request body when there is one; a body that claims JSON but isn't is a 400. */
export function parseJsonBody(facts: RequestFacts): unknown {
  if (facts.bodyText === null || facts.bodyText.length === 0) return null;
  if (facts.contentType !== "application/json" && !facts.contentType.endsWith("+json")) return null;
  try {
    return JSON.parse(facts.bodyText) as unknown;
  } catch {
    throw new BadRequestError("request body is not valid JSON");
  }
}
