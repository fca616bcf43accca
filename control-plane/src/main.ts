import { exitOnConfigError } from "../../lib/src/config.js";
import { stopOnSignals } from "../../lib/src/stop-signals.js";
import { startControlPlane } from "./app.js";

const running = await startControlPlane().catch((error: unknown) =>
  exitOnConfigError("control-plane", error),
);

stopOnSignals(() => running.close());
