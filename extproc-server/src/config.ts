import { env, loadConfig } from "../../lib/src/config.js";
import { spiffeServerConfigShape } from "../../lib/src/spiffe/grpc-mtls.js";

export const extprocConfigShape = {
  ...spiffeServerConfigShape,
  WARDEN_EXTPROC_LISTEN: env.listenAddress("127.0.0.1:9002"),
  WARDEN_LOG_LEVEL: env.logLevel(),
  // An open stream is an HTTP exchange in flight, possibly a long LLM stream: give it time to finish.
  WARDEN_SHUTDOWN_GRACE_MS: env.positiveInt(25_000),
};

export type ExtprocConfig = ReturnType<typeof loadExtprocConfig>;

export function loadExtprocConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(extprocConfigShape, source);
}
