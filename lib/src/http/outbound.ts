import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP } from "node:net";
import { z } from "zod";
import { env } from "../config.js";

/**
 * The one HTTP client for every call Warden makes to a third party (OAuth providers, SaaS APIs,
 * later webhooks). A third party's answer is untrusted input, so:
 *
 * - a redirect is an error, never followed: following a 307 from a token endpoint re-sends the client
 *   secret, the code and the PKCE verifier (or a refresh token) to a host nobody configured;
 * - the body is read as a stream up to `maxResponseBytes` and the connection is cut beyond it (a
 *   256 MiB "token response" must not exhaust the process);
 * - one deadline covers connect, TLS, headers and body;
 * - TLS is always verified (`rejectUnauthorized: true`, whatever NODE_TLS_REJECT_UNAUTHORIZED says);
 * - private, loopback, link-local and other non-public addresses are refused at connect time (the
 *   check is in the DNS lookup the socket uses, so a name that resolves differently later cannot slip
 *   past it), unless the URL's host is in `allowedPrivateHosts` (local stubs, an on-premises IdP).
 *
 * Errors never carry the request body or headers (they may hold secrets), only what went wrong.
 */
export type OutboundFailure = "redirect" | "too_large" | "timeout" | "unreachable" | "forbidden_target";

export class OutboundError extends Error {
  constructor(
    readonly failure: OutboundFailure,
    message: string,
  ) {
    super(message);
    this.name = "OutboundError";
  }
}

export interface OutboundPolicy {
  maxResponseBytes: number;
  /** Host names or IP literals (as written in URLs) allowed to be or resolve to non-public addresses. */
  allowedPrivateHosts: ReadonlySet<string>;
  /** Non-public networks an administrator allowed (webhook receivers on a private network). */
  allowedNetworks?: BlockList;
}

export interface OutboundRequest {
  method: "GET" | "POST";
  url: string;
  headers?: Readonly<Record<string, string>>;
  body?: string;
  timeoutMs: number;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface OutboundClient {
  request(request: OutboundRequest): Promise<OutboundResponse>;
}

const HOST_ENTRY = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+|[0-9a-fA-F:.]+)$/;

/** Start-up settings (`WARDEN_OUTBOUND_*`), shared by every component that calls third parties. */
export const outboundConfigShape = {
  WARDEN_OUTBOUND_MAX_RESPONSE_BYTES: env
    .positiveInt(1024 * 1024)
    .describe(
      'Largest answer read from a third party (OAuth providers); beyond it the call fails (502 to our caller). See docs/oauth-connections.md "Provider calls".',
    ),
  WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: z
    .string()
    .optional()
    .transform((value, context) => {
      const hosts = (value ?? "")
        .split(",")
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== "");
      for (const host of hosts)
        if (!HOST_ENTRY.test(host))
          context.addIssue({ code: z.ZodIssueCode.custom, message: `"${host}" is not a host name or IP` });
      return hosts;
    })
    .describe(
      "Comma-separated hosts a third-party call may reach on a private or loopback address (as written in the URL: `127.0.0.1`, `localhost`, `idp.internal`). Empty: every third party must be on a public address.",
    ),
};

export function outboundPolicyFrom(config: {
  WARDEN_OUTBOUND_MAX_RESPONSE_BYTES: number;
  WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: string[];
}): OutboundPolicy {
  return {
    maxResponseBytes: config.WARDEN_OUTBOUND_MAX_RESPONSE_BYTES,
    // IPv6 literals are compared without their URL brackets.
    allowedPrivateHosts: new Set(
      config.WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS.map((h) => h.replace(/^\[|\]$/g, "")),
    ),
  };
}

// RFC 6890 special-purpose ranges, RFC 1918, RFC 6598, loopback, link-local, multicast, reserved.
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  NON_PUBLIC.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 96], // unspecified, loopback and the deprecated IPv4-compatible addresses (::a.b.c.d)
  ["64:ff9b:1::", 48],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  NON_PUBLIC.addSubnet(net, prefix, "ipv6");

/**
 * Is this IP address outside the public Internet? IPv4-mapped IPv6 (`::ffff:7f00:1` as well as
 * `::ffff:127.0.0.1`, the form URLs normalise to) is judged by its IPv4 address.
 */
export function isNonPublicAddress(address: string): boolean {
  const mapped = ipv4Of(address);
  if (mapped) return NON_PUBLIC.check(mapped, "ipv4");
  const family = isIP(address);
  if (family === 4) return NON_PUBLIC.check(address, "ipv4");
  if (family === 6) return NON_PUBLIC.check(address, "ipv6");
  return true;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address, in either notation; null for anything else. */
export function ipv4Of(address: string): string | null {
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted) return dotted[1]!;
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return null;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/** Is the address in one of the networks an administrator allowed? */
export function isAllowedNetwork(address: string, networks: BlockList | undefined): boolean {
  if (!networks) return false;
  const v4 = ipv4Of(address);
  if (v4) return networks.check(v4, "ipv4");
  const family = isIP(address);
  return family !== 0 && networks.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** A target address is refused when it is non-public and not in an allowed network. */
export function isRefusedAddress(address: string, networks?: BlockList): boolean {
  return isNonPublicAddress(address) && !isAllowedNetwork(address, networks);
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A DNS lookup for the socket that refuses non-public answers (outside `networks`): the check is on
 * the address the socket connects to, so a name that resolves differently later (DNS rebinding)
 * cannot slip past a check made earlier.
 */
const guardedLookup = (networks: BlockList | undefined) =>
  function lookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
    dnsLookup(hostname, { all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = addresses.find((a) => isRefusedAddress(a.address, networks));
      if (refused || addresses.length === 0) {
        const denied = Object.assign(new Error(`${hostname} resolves to a non-public address`), {
          code: "EWARDEN_FORBIDDEN_TARGET",
        });
        return callback(denied, []);
      }
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };

/** A CIDR (`10.0.0.0/8`, `127.0.0.1/32`, `fd00::/8`) as a network; null when it is not one. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | null {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!match) return null;
  const family = isIP(match[1]!);
  const prefix = Number(match[2]);
  if (family === 0 || prefix > (family === 4 ? 32 : 128)) return null;
  return { address: match[1]!, prefix, family: family === 4 ? "ipv4" : "ipv6" };
}

/** The networks of a list of CIDRs already checked with parseCidr. */
export function networksOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const network = parseCidr(cidr);
    if (network) list.addSubnet(network.address, network.prefix, network.family);
  }
  return list;
}

function hostOf(url: URL): string {
  return url.hostname.toLowerCase();
}

export function createOutboundClient(policy: OutboundPolicy): OutboundClient {
  return {
    request: (request) => send(policy, request),
  };
}

function send(policy: OutboundPolicy, request: OutboundRequest): Promise<OutboundResponse> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return Promise.reject(new OutboundError("forbidden_target", "the URL is not valid"));
  }
  const host = hostOf(url).replace(/^\[|\]$/g, "");
  const where = url.host;
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return Promise.reject(new OutboundError("forbidden_target", `${url.protocol} is not allowed`));
  if (url.username || url.password)
    return Promise.reject(new OutboundError("forbidden_target", "credentials in the URL are not allowed"));
  const allowedPrivate = policy.allowedPrivateHosts.has(host);
  if (!allowedPrivate && isIP(host) !== 0 && isRefusedAddress(host, policy.allowedNetworks))
    return Promise.reject(
      new OutboundError("forbidden_target", `${where} is a non-public address and not allowed`),
    );
  if (!allowedPrivate && host === "localhost")
    return Promise.reject(new OutboundError("forbidden_target", `${where} is loopback and not allowed`));

  return new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    const fail = (error: OutboundError) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      outgoing.destroy();
      reject(error);
    };
    const body = request.body === undefined ? undefined : Buffer.from(request.body, "utf8");
    const requestOf = url.protocol === "https:" ? httpsRequest : httpRequest;
    const outgoing = requestOf(url, {
      method: request.method,
      headers: {
        ...request.headers,
        ...(body ? { "content-length": String(body.length) } : {}),
        // Identity only: a compressed answer could expand far beyond the limit after we counted it.
        "accept-encoding": "identity",
      },
      agent: false,
      rejectUnauthorized: true,
      ...(allowedPrivate ? {} : { lookup: guardedLookup(policy.allowedNetworks) as never }),
    });
    const deadline = setTimeout(
      () => fail(new OutboundError("timeout", `${where} did not answer within ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    outgoing.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EWARDEN_FORBIDDEN_TARGET")
        fail(
          new OutboundError(
            "forbidden_target",
            `${where} resolves to a non-public address and is not allowed`,
          ),
        );
      else
        fail(new OutboundError("unreachable", `${where} could not be reached (${error.code ?? error.name})`));
    });
    outgoing.on("response", (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && status !== 304) {
        response.resume();
        return fail(
          new OutboundError("redirect", `${where} answered with a redirect (${status}); not followed`),
        );
      }
      const declared = Number(response.headers["content-length"] ?? NaN);
      if (Number.isFinite(declared) && declared > policy.maxResponseBytes)
        return fail(tooLarge(where, policy.maxResponseBytes));
      const parts: Buffer[] = [];
      let size = 0;
      response.on("data", (part: Buffer) => {
        size += part.length;
        if (size > policy.maxResponseBytes) return fail(tooLarge(where, policy.maxResponseBytes));
        parts.push(part);
      });
      response.on("error", () => fail(new OutboundError("unreachable", `${where} broke off its answer`)));
      response.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve({ status, headers: response.headers, body: Buffer.concat(parts, size) });
      });
    });
    outgoing.end(body);
  });
}

function tooLarge(where: string, limit: number): OutboundError {
  return new OutboundError("too_large", `${where} answered with more than ${limit} bytes; not read`);
}
