import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../config.js";
import { loadRuntimeConfig } from "./layout.js";
import { stackComponents } from "./stack.js";

/** `warden up` and traces: off by default; one endpoint reaches every server and every Envoy. */
let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "warden-tracing-"));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

function serverEnv(config: ReturnType<typeof loadRuntimeConfig>, name: string) {
  const component = stackComponents(config).components.find((c) => c.name === name);
  return component!.launch().env ?? {};
}

async function envoyYaml(config: ReturnType<typeof loadRuntimeConfig>): Promise<string> {
  const envoy = stackComponents(config).components.find((c) => c.name === "envoy")!;
  await envoy.prepare!();
  return readFileSync(join(config.home, "envoy", "envoy.yaml"), "utf8");
}

test("tracing is off unless asked for", async () => {
  const config = loadRuntimeConfig({}, home);
  expect(config.otlpEndpoint).toBeNull();
  expect(serverEnv(config, "authz-server").WARDEN_OTLP_ENDPOINT).toBe("");
  expect(serverEnv(config, "extproc-server").WARDEN_OTLP_ENDPOINT).toBe("");
  expect(await envoyYaml(config)).not.toContain("envoy.tracers.opentelemetry");
});

test("--otlp-endpoint sends the traces of both servers and Envoy to that collector", async () => {
  const config = loadRuntimeConfig({ WARDEN_HOME: home }, home, { otlpEndpoint: "http://127.0.0.1:4317" });
  expect(serverEnv(config, "authz-server").WARDEN_OTLP_ENDPOINT).toBe("http://127.0.0.1:4317");
  expect(serverEnv(config, "extproc-server").WARDEN_OTLP_ENDPOINT).toBe("http://127.0.0.1:4317");
  const yaml = await envoyYaml(config);
  expect(yaml).toContain("envoy.tracers.opentelemetry");
  expect(yaml).toMatch(/cluster_name: warden_otlp[\s\S]*port_value: 4317/);
});

test("a wrong endpoint stops warden up with the setting's name", () => {
  expect(() => loadRuntimeConfig({ WARDEN_OTLP_ENDPOINT: "127.0.0.1:4317" }, home)).toThrow(ConfigError);
  expect(() => loadRuntimeConfig({}, home, { otlpEndpoint: "jaeger" })).toThrow(/WARDEN_OTLP_ENDPOINT/);
});
