import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadRuntimeConfig } from "./layout.js";
import { stackComponents } from "./stack.js";

/** `warden up` and shared rate limits: every sidecar it runs counts against them, and extproc-server charges tokens. */
let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "warden-rate-limits-"));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const config = () =>
  loadRuntimeConfig({ WARDEN_HOME: home }, home, {
    zeroCodeAgent: "legacy-bot",
    zeroCodePort: "4100",
    inboundMcp: "files",
    upstream: "http://127.0.0.1:7001",
    resourceUri: "https://files.example/mcp",
  });

async function envoyYaml(name: string): Promise<string> {
  const stack = stackComponents(config());
  const envoy = stack.components.find((c) => c.name === name)!;
  await envoy.prepare!();
  const args = envoy.launch().args ?? [];
  return readFileSync(args[args.indexOf("-c") + 1]!, "utf8");
}

test("extproc-server charges LLM tokens to the rate-limit service warden up runs", () => {
  const c = config();
  const extproc = stackComponents(c).components.find((component) => component.name === "extproc-server")!;
  expect(extproc.launch().env?.WARDEN_RATELIMIT_GRPC_ADDRESS).toBe(`127.0.0.1:${c.ports.ratelimitGrpc}`);
});

test.each(["envoy", "zero-code-envoy", "inbound-envoy"])(
  "the %s sidecar counts its requests against the shared limits",
  async (name) => {
    const yaml = await envoyYaml(name);
    expect(yaml).toContain("envoy.filters.http.ratelimit");
    expect(yaml).toContain("envoy.filters.http.ratelimit.fail_closed");
  },
);
