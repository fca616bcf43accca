import { exitOnConfigError } from "../../lib/src/config.js";
import { startControlPlane } from "./app.js";

const running = await startControlPlane().catch((error: unknown) =>
  exitOnConfigError("control-plane", error),
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void running.close().then(() => process.exit(0));
  });
}
