import {
  isCredentialQueryParam,
  redactCredentialHeaders,
  redactCredentialQuery,
} from "../../lib/src/credentials.js";
import type { CheckRequest } from "../../lib/src/envoy/services.js";
import { checkBodyLimits, DEFAULT_BODY_LIMITS, type BodyLimits } from "./body-limits.js";

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
  /** Credential parameters (lib/src/credentials.ts) carry `[REDACTED]`; their names are in `credentialQuery`. */
  query: Record<string, string | string[]>;
  /**
   * Query parameter names, as the agent wrote them (`%6Bey` too), that carry credentials: Envoy
   * removes them before the request goes upstream.
   */
  credentialQuery: string[];
  headers: Record<string, string>;
  /** Raw body text when Envoy forwarded it (routes that ask for it), else null. */
  bodyText: string | null;
  /** Bytes of the body Envoy forwarded. */
  bodyBytes: number;
  contentType: string;
  peer: { principal: string; certificate: string };
  /**
   * Set by the Envoy route (never by the agent). `mcpUpstream`: "warden" when an MCP route's upstream
   * is a Warden inbound sidecar (context extension `mcp_upstream`), else "server".
   */
  route: {
    service: string;
    /** The destination's name (rate limits' `route` scope); its service when the route names none. */
    name: string;
    kind: string;
    pathPrefix: string;
    mcpUpstream: "server" | "warden";
  };
  /** Envoy's receive time, ns since epoch, or null. */
  timeNs: number | null;
}

/** A request Warden refuses before any policy runs: a 400 (or 413) with a code that names the problem. */
export class BadRequestError extends Error {
  constructor(
    message: string,
    readonly code: string = "bad_request",
    readonly status: 400 | 413 = 400,
  ) {
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
  // Own properties only: `?constructor=x` or `?__proto__=x` are ordinary parameters.
  for (const [key, value] of params) {
    const existing = Object.hasOwn(out, key) ? out[key] : undefined;
    if (existing === undefined)
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

/**
 * Envoy matches `query_parameters_to_remove` against the names as written, without decoding, while
 * providers decode them: `?%6Bey=…` is Google's `key`. So the names to remove are the raw ones whose
 * decoded form is a credential. Only called when the decoded query holds one.
 */
function rawCredentialNames(query: string): string[] {
  const names = new Set<string>();
  for (const part of query.split("&")) {
    const eq = part.indexOf("=");
    const raw = eq === -1 ? part : part.slice(0, eq);
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw.replace(/\+/g, " "));
    } catch {
      decoded = raw;
    }
    if (isCredentialQueryParam(decoded)) names.add(raw);
  }
  return [...names];
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
  let bodyBytes = 0;
  if (http?.rawBody && http.rawBody.length > 0) {
    bodyText = Buffer.from(http.rawBody).toString("utf8");
    bodyBytes = http.rawBody.length;
  } else if (http?.body) {
    bodyText = http.body;
    bodyBytes = Buffer.byteLength(http.body);
  }

  const time = attributes?.request?.time;
  const timeNs = time?.seconds != null ? Number(time.seconds) * 1e9 + (time.nanos ?? 0) : null;

  const parsedQuery = parseQuery(query);
  return {
    id: http?.id ?? "",
    method: (http?.method ?? "").toUpperCase(),
    scheme: http?.scheme ?? "",
    host: (http?.host ?? "").toLowerCase(),
    path: upstreamPath,
    query: parsedQuery,
    credentialQuery: redactCredentialQuery(parsedQuery).length > 0 ? rawCredentialNames(query) : [],
    headers: redactCredentialHeaders(headers),
    bodyText,
    bodyBytes,
    contentType: (headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase(),
    peer: {
      principal: attributes?.source?.principal ?? "",
      certificate: attributes?.source?.certificate ?? "",
    },
    route: {
      service: ext.service ?? "",
      name: ext.route ?? ext.service ?? "",
      kind: ext.kind ?? "",
      pathPrefix,
      mcpUpstream: ext.mcp_upstream === "warden" ? "warden" : "server",
    },
    timeNs,
  };
}

/**
 * Parses a JSON request body when there is one; a body that claims JSON but isn't is a 400, and one
 * over a limit (size, depth, keys, string length) a 400/413 naming the limit, before it is parsed.
 */
export function parseJsonBody(facts: RequestFacts, limits: BodyLimits = DEFAULT_BODY_LIMITS): unknown {
  if (facts.bodyText === null || facts.bodyText.length === 0) return null;
  if (facts.contentType !== "application/json" && !facts.contentType.endsWith("+json")) return null;
  const exceeded = checkBodyLimits(facts.bodyText, facts.bodyBytes, limits);
  if (exceeded) throw new BadRequestError(exceeded.message, exceeded.code, exceeded.status);
  try {
    return JSON.parse(facts.bodyText) as unknown;
  } catch {
    throw new BadRequestError("request body is not valid JSON");
  }
}
