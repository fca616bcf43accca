import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../config.js";
import { DEFAULT_PORTS, homePaths, loadRuntimeConfig } from "./layout.js";
import { stackComponents } from "./stack.js";

describe("warden up configuration", () => {
  test("default ports never clash (SPIRE's own default 8081 is the control plane's)", () => {
    const { ports } = loadRuntimeConfig({}, "/srv");
    expect(new Set(Object.values(ports)).size).toBe(Object.keys(DEFAULT_PORTS).length);
    expect(ports.controlPlane).toBe(8081);
    expect(ports.spireServer).not.toBe(8081);
  });

  test("WARDEN_PORT_BASE moves every port to base, base+1, … in a fixed order", () => {
    const { ports } = loadRuntimeConfig({ WARDEN_PORT_BASE: "30000" }, "/srv");
    expect(Object.values(ports).sort()).toEqual(
      Array.from({ length: Object.keys(DEFAULT_PORTS).length }, (_, i) => 30000 + i),
    );
    expect(ports.agent).toBe(30000);
  });

  test("WARDEN_HOME defaults to ./.warden, resolved against the working directory", () => {
    expect(loadRuntimeConfig({}, "/srv/app").home).toBe("/srv/app/.warden");
    expect(homePaths("/h").log("envoy")).toBe("/h/logs/envoy.log");
  });

  test("a wrong value is one line naming the variable", () => {
    expect(() => loadRuntimeConfig({ WARDEN_DEV_UPSTREAM: "example.com:80" })).toThrow(ConfigError);
    try {
      loadRuntimeConfig({ WARDEN_DEV_UPSTREAM: "example.com:80", WARDEN_PORT_BASE: "x" });
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        expect.stringMatching(/^WARDEN_PORT_BASE: /),
        expect.stringMatching(/^WARDEN_DEV_UPSTREAM: must be 127\.0\.0\.1:<port>/),
      ]);
    }
  });

  test("an external DATABASE_URL replaces the embedded cluster", () => {
    expect(loadRuntimeConfig({}).externalDatabaseUrl).toBeNull();
    expect(loadRuntimeConfig({ DATABASE_URL: "postgresql://db.example/warden" }).externalDatabaseUrl).toBe(
      "postgresql://db.example/warden",
    );
  });

  test("WARDEN_WORKERS: both servers run that many processes and every Envoy as many threads", () => {
    expect(loadRuntimeConfig({}).workers).toBe(1);
    expect(() => loadRuntimeConfig({ WARDEN_WORKERS: "many" })).toThrow(
      /^invalid configuration:\n {2}- WARDEN_WORKERS: /,
    );
    const home = mkdtempSync(join(tmpdir(), "warden-workers-"));
    try {
      const config = loadRuntimeConfig({
        WARDEN_HOME: home,
        WARDEN_WORKERS: "2",
        WARDEN_ZERO_CODE_AGENT: "",
      });
      // warden up runs as root (the components under their own uids); the stack is only built then.
      if (process.getuid?.() !== 0) return;
      const launches = new Map(stackComponents(config).components.map((c) => [c.name, c.launch()]));
      expect(launches.get("authz-server")?.env?.WARDEN_WORKERS).toBe("2");
      expect(launches.get("extproc-server")?.env?.WARDEN_WORKERS).toBe("2");
      const envoyArgs = launches.get("envoy")?.args ?? [];
      expect(envoyArgs[envoyArgs.indexOf("--concurrency") + 1]).toBe("2");
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
