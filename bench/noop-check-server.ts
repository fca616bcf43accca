/**
 * The floor of our runtime: an ext_authz Check server on @grpc/grpc-js that allows everything with a
 * pre-built answer. Benchmarks compare authz-server against it in the same run.
 * Run: node dist/bench/noop-check-server.js <host:port>
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { AuthorizationService, type ICheckResponse } from "../lib/src/envoy/services.js";

const ALLOW: ICheckResponse = { status: { code: 0 }, okResponse: {} };
const address = process.argv[2] ?? "127.0.0.1:9901";
const server = new Server();
server.addService(AuthorizationService, {
  check: (_call: unknown, callback: (e: null, r: ICheckResponse) => void) => callback(null, ALLOW),
});
server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`noop-check-server listening on ${port}\n`);
});
process.on("SIGTERM", () => server.forceShutdown());
