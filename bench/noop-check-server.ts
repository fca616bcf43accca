/**
 * The floor of our runtime: an ext_authz Check server that allows everything with a pre-built
 * answer. Benchmarks compare authz-server against it in the same run. By default on @grpc/grpc-js
 * (the floor issue #24 defines); `h2` serves it on our node:http2 transport (lib/src/grpc-h2/), the
 * floor of authz-server with WARDEN_GRPC_TRANSPORT=h2.
 * Run: node dist/bench/noop-check-server.js <host:port> [grpc-js|h2]
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { AuthorizationService, type ICheckResponse } from "../lib/src/envoy/services.js";
import { H2GrpcServer } from "../lib/src/grpc-h2/server.js";

const ALLOW: ICheckResponse = { status: { code: 0 }, okResponse: {} };
const address = process.argv[2] ?? "127.0.0.1:9901";
const check = (_call: unknown, callback: (e: null, r: ICheckResponse) => void) => callback(null, ALLOW);

if (process.argv[3] === "h2") {
  const server = new H2GrpcServer("envoy.service.auth.v3.Authorization", 4 * 1024 * 1024);
  server.addService(AuthorizationService, { check });
  const port = await server.listen(address);
  process.stdout.write(`noop-check-server (h2) listening on ${port}\n`);
  process.on("SIGTERM", () => void server.shutdown(0));
} else {
  const server = new Server();
  server.addService(AuthorizationService, { check });
  server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    process.stdout.write(`noop-check-server listening on ${port}\n`);
  });
  process.on("SIGTERM", () => server.forceShutdown());
}
