const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * An MCP server's resource URI (RFC 8707 §2, RFC 9728 `resource`): absolute https (http only on a
 * loopback host, for local runs), no fragment, no user info, scheme and host in lower case (the
 * inbound sidecar compares `aud` with it exactly). The problem with it, or null when it is fine.
 */
export function resourceUriProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be an absolute URI such as https://mcp.example.com/mcp";
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOSTS.test(url.hostname)))
    return "must be an https URI (http only for localhost, 127.0.0.1 or [::1])";
  if (value.includes("#")) return "must not have a fragment (RFC 8707)";
  if (url.username !== "" || url.password !== "") return "must not carry user info";
  const authority = value.slice(0, value.indexOf("//") + 2 + url.host.length);
  if (authority !== `${url.protocol}//${url.host}`)
    return `must name its scheme and host in lower case (${url.protocol}//${url.host})`;
  return null;
}
