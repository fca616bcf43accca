/**
 * Loaded with `node --import` into a server the bench starts where `--cpu-prof` cannot be passed
 * (NODE_OPTIONS refuses it): a V8 CPU profile from start to exit, written to
 * $BENCH_CPU_PROFILE_DIR/CPU.<pid>.cpuprofile (the format `--cpu-prof` writes). Measures only.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 1000 });
  session.post("Profiler.start");
  // The main thread's session answers synchronously, so this works inside 'exit'.
  process.on("exit", () => {
    session.post("Profiler.stop", (error, result) => {
      if (!error)
        writeFileSync(
          join(dir, `CPU.${Date.now()}.${process.pid}.cpuprofile`),
          JSON.stringify(result.profile),
        );
    });
  });
}
