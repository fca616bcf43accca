import { isIP } from "node:net";

/**
 * The Workload API endpoint address (SPIFFE Workload Endpoint specification,
 * spiffe/spiffe standards/SPIFFE_Workload_Endpoint.md): `unix:///path/to/socket` or
 * `tcp://<ip>:<port>`, as found in SPIFFE_ENDPOINT_SOCKET. A bare absolute path is accepted too.
 * Returns the gRPC target for @grpc/grpc-js.
 */
export class WorkloadEndpointError extends Error {
  constructor(address: string, reason: string) {
    super(`invalid Workload API endpoint "${address}": ${reason}`);
    this.name = "WorkloadEndpointError";
  }
}

export function workloadApiTarget(address: string): string {
  if (address.startsWith("/")) return `unix://${address}`;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new WorkloadEndpointError(address, "not a URL or an absolute socket path");
  }
  if (url.search || url.hash) throw new WorkloadEndpointError(address, "query and fragment are not allowed");
  if (url.username || url.password) throw new WorkloadEndpointError(address, "user info is not allowed");
  switch (url.protocol) {
    case "unix:":
      if (url.host) throw new WorkloadEndpointError(address, "a unix address has no host (use unix:///path)");
      if (!url.pathname || url.pathname === "/")
        throw new WorkloadEndpointError(address, "socket path is missing");
      return `unix://${decodeURIComponent(url.pathname)}`;
    case "tcp:": {
      const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
      if (isIP(host) === 0)
        throw new WorkloadEndpointError(address, "a tcp address needs an IP address, not a name");
      if (!url.port) throw new WorkloadEndpointError(address, "a tcp address needs a port");
      if (url.pathname && url.pathname !== "/")
        throw new WorkloadEndpointError(address, "a tcp address has no path");
      return `${isIP(host) === 6 ? `ipv6:[${host}]` : `ipv4:${host}`}:${url.port}`;
    }
    default:
      throw new WorkloadEndpointError(address, `unsupported scheme "${url.protocol}" (use unix: or tcp:)`);
  }
}
