import { availableParallelism } from "node:os";
import { ConfigError, loadConfig } from "../config.js";
import { perWorkerPath, workerCount, workersConfigShape } from "./workers.js";

describe("WARDEN_WORKERS", () => {
  it("takes a whole number, and 'auto' is one per core", () => {
    expect(workerCount("3", 8)).toBe(3);
    expect(workerCount(" 2 ", 8)).toBe(2);
    expect(workerCount("auto", 8)).toBe(8);
    expect(workerCount("auto", 128)).toBe(64);
  });

  it("defaults to one process when not set, and 'auto' follows this machine", () => {
    expect(loadConfig(workersConfigShape, {}).WARDEN_WORKERS).toBe(1);
    expect(loadConfig(workersConfigShape, { WARDEN_WORKERS: "" }).WARDEN_WORKERS).toBe(1);
    expect(loadConfig(workersConfigShape, { WARDEN_WORKERS: "auto" }).WARDEN_WORKERS).toBe(
      Math.min(64, availableParallelism()),
    );
  });

  it.each(["0", "-1", "1.5", "two", "65"])(
    "refuses %s at start-up, naming the variable, the rule and the value",
    (value) => {
      expect(workerCount(value, 2)).toBeNull();
      expect(() => loadConfig(workersConfigShape, { WARDEN_WORKERS: value })).toThrow(ConfigError);
      expect(() => loadConfig(workersConfigShape, { WARDEN_WORKERS: value })).toThrow(
        `WARDEN_WORKERS: must be a whole number from 1 to 64, or "auto" (one per core) (got "${value}")`,
      );
    },
  );

  it("leaves a spool path alone outside a worker", () => {
    expect(perWorkerPath(".warden/spool.ndjson")).toBe(".warden/spool.ndjson");
  });
});
