import { lookup } from "node:dns/promises";
import { isIP, type BlockList } from "node:net";
import { isAllowedNetwork, isRefusedAddress } from "../../../lib/src/http/outbound.js";

/**
 * Where a webhook may go (checked when it is subscribed; delivery checks again at connect time, in
 * the outbound client's DNS lookup, so a name that later resolves to a private address is refused
 * then too). Refused: anything but http(s), credentials in the URL, and a host that is or resolves
 * to a loopback, link-local, private (RFC 1918, ULA), CGNAT, unspecified, multicast or reserved
 * address, in IPv4, IPv6 or IPv4-mapped IPv6 form, unless it is in a network the administrator
 * allowed (`WARDEN_WEBHOOK_ALLOW_CIDRS`). Plain http only to such allowed networks.
 */
export type Resolve = (host: string) => Promise<string[]>;

export const resolveAll: Resolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/** null when the URL may be subscribed; otherwise why not (for a person). */
export async function targetProblem(
  raw: string,
  allowed: BlockList,
  resolve: Resolve = resolveAll,
): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an https:// URL";
  if (url.username || url.password) return "must not carry credentials";
  if (url.hash) return "must not have a #fragment";
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  let addresses: string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch {
      return `names a host that does not resolve (${host})`;
    }
    if (addresses.length === 0) return `names a host that does not resolve (${host})`;
  }
  const refused = addresses.find((address) => isRefusedAddress(address, allowed));
  if (refused) return `resolves to a non-public address (${refused}) that is not allowed`;
  if (url.protocol === "http:" && !addresses.every((address) => isAllowedNetwork(address, allowed)))
    return "must be an https:// URL (plain http only to networks an administrator allowed)";
  return null;
}
