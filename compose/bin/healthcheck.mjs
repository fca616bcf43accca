// Docker healthcheck for the Warden image (the slim Node image has no curl):
//   node compose/bin/healthcheck.mjs http://127.0.0.1:9101/readyz   → healthy on a 2xx answer
//   node compose/bin/healthcheck.mjs tcp:127.0.0.1:9002             → healthy when the port accepts
// extproc-server's gRPC health answers only Envoy (mTLS), so its check is a TCP connect.
import { connect } from "node:net";

const [target] = process.argv.slice(2);
const done = (healthy) => process.exit(healthy ? 0 : 1);

if (target?.startsWith("tcp:")) {
  const [host, port] = target.slice("tcp:".length).split(":");
  const socket = connect({ host, port: Number(port), timeout: 2_000 });
  socket.once("connect", () => done(true));
  socket.once("error", () => done(false));
  socket.once("timeout", () => done(false));
} else if (target) {
  fetch(target, { signal: AbortSignal.timeout(2_000) }).then(
    (response) => done(response.ok),
    () => done(false),
  );
} else {
  console.error("usage: healthcheck.mjs <http URL | tcp:host:port>");
  process.exit(2);
}
