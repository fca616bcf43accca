import { exitOnConfigError } from "../../lib/src/config.js";
import { createLogger } from "../../lib/src/logger.js";
import { loadExtprocConfig, type ExtprocConfig } from "./config.js";
import { ExtProcServer } from "./server.js";

let config: ExtprocConfig;
try {
  config = loadExtprocConfig();
} catch (error) {
  exitOnConfigError("extproc-server", error);
}

const logger = createLogger("extproc-server", config.WARDEN_LOG_LEVEL);
const server = new ExtProcServer({ logger, providers: [] });

let port: number;
try {
  port = await server.listen(config.WARDEN_EXTPROC_LISTEN);
} catch (error) {
  logger.fatal({ err: error, listen: config.WARDEN_EXTPROC_LISTEN }, "extproc-server cannot listen");
  process.exit(1);
}
logger.info({ listen: config.WARDEN_EXTPROC_LISTEN, port }, "extproc-server listening");

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, open_streams: server.openStreams }, "extproc-server draining");
  await server.shutdown(config.WARDEN_SHUTDOWN_GRACE_MS);
  logger.info("extproc-server stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
