import { ConfigError } from "../config.js";
import { perWorkerPath, workerCount } from "./workers.js";

describe("WARDEN_WORKERS", () => {
  it("defaults to one process, takes a whole number, and 'auto' is one per core", () => {
    expect(workerCount(undefined, 8)).toBe(1);
    expect(workerCount("", 8)).toBe(1);
    expect(workerCount("3", 8)).toBe(3);
    expect(workerCount("auto", 8)).toBe(8);
  });

  it.each(["0", "-1", "1.5", "two", "65"])("refuses %s as a configuration error", (value) => {
    expect(() => workerCount(value, 2)).toThrow(ConfigError);
  });

  it("leaves a spool path alone outside a worker", () => {
    expect(perWorkerPath(".warden/spool.ndjson")).toBe(".warden/spool.ndjson");
  });
});
