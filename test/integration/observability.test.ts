import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { supervisorStateSchema } from "../../lib/src/runtime/state.js";
import type { MetricsEndpoint } from "../../lib/src/runtime/metrics-endpoints.js";
import { z } from "zod";
import { REPO_ROOT, TEARDOWN_TIMEOUT_MS, TOOLS_BIN, waitFor } from "../harness/process.js";
import { ensureBuilt } from "../harness/stack.js";
import { agentAddArgs, kyaApproveArgs, wardenEnv } from "../harness/warden-cli.js";
import { startStubUpstream, type StubUpstream } from "../stubs/upstream.js";
import {
  CLI,
  connectSvidAgent,
  freePortBase,
  postChat,
  runWardenCli,
  waitForRefusal,
  type CliResult,
} from "./local-stack-fixture.js";

/**
 * Observability as an operator meets it: `warden up`, real traffic through the sidecar (a refusal,
 * then LLM calls with the key from OpenBao), then every component's metrics endpoint, as `warden
 * status` lists it, passes Prometheus's own `promtool check metrics`, carries the series the
 * dashboards and alerts read, and shows no user id or secret. The alert rules pass `promtool check
 * rules` and their unit tests (`promtool test rules`), the example scrape config `promtool check
 * config`. The only stand-in is the LLM provider.
 */
const PROMTOOL = join(TOOLS_BIN, "promtool");
const RULES_DIR = join(REPO_ROOT, "observability", "prometheus");
const DASHBOARDS_DIR = join(REPO_ROOT, "observability", "grafana");
const LLM_KEY = "sk-metrics-test-key-in-openbao";

/** Label names that look like metric names in the dashboards' queries (`sum by (mcp_server)`). */
const LABEL_NAMES =
  /^(gen_ai_(token_type|operation_name|provider_name|request_model|response_model|tool_name)|mcp_method_name|mcp_server|envoy_response_code_class|http_route|http_request_method|http_response_status_code)$/;

let home: string;
let upstream: StubUpstream;
let env: NodeJS.ProcessEnv;
let agent: Awaited<ReturnType<typeof connectSvidAgent>> | undefined;
/** Each endpoint's page, scraped once after the traffic. */
const pages = new Map<string, string>();
let endpoints: MetricsEndpoint[] = [];

function warden(args: string[], input?: string): Promise<CliResult> {
  return runWardenCli(args, env, input);
}

function promtool(args: string[], stdin?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL, args, { cwd: RULES_DIR, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, output: stdout + stderr }),
    );
    child.stdin?.end(stdin ?? "");
  });
}

/** `warden status --json`, with the metrics endpoints it lists. */
const statusWithMetrics = supervisorStateSchema.extend({
  metrics: z.array(z.object({ component: z.string(), url: z.string() })),
});

async function state() {
  const result = await warden(["status", "--json"]);
  return statusWithMetrics.parse(JSON.parse(result.stdout));
}

beforeAll(async () => {
  ensureBuilt([CLI], ["lib/src", "control-plane/src", "authz-server/src", "extproc-server/src"]);
  home = mkdtempSync(join(tmpdir(), "wobs-"));
  upstream = await startStubUpstream();
  env = wardenEnv(home, await freePortBase(), `127.0.0.1:${upstream.port}`);
  const up = await warden(["up", "--detach"]);
  if (up.code !== 0) throw new Error(`warden up failed: ${up.stderr}${up.stdout}`);

  // Real traffic: a refusal (KYA pending), then allowed LLM calls with the key held in OpenBao.
  expect((await warden(["login"])).code).toBe(0);
  expect((await warden(["llm-key", "set", "openai"], `${LLM_KEY}\n`)).code).toBe(0);
  const added = await warden(
    agentAddArgs("metrics-agent", { endpoint: "https://api.openai.com/v1/chat/completions" }),
  );
  if (added.code !== 0) throw new Error(`agent add failed: ${added.stderr}`);
  const { attestation } = JSON.parse(added.stdout) as { attestation: { id: string } };
  const running = await state();
  agent = await connectSvidAgent(running.workloadEndpoint, running.envoySpiffeId);
  const call = () => postChat(agent?.client, running.agentUrl);
  await waitForRefusal(call, "kya_pending");
  expect((await warden(["login", "--user", "reviewer"])).code).toBe(0);
  const approved = await warden(kyaApproveArgs(attestation.id));
  if (approved.code !== 0) throw new Error(`kya approve failed: ${approved.stderr}`);
  await waitFor("an allowed LLM call", async () => (await call()).status === 200, 30_000);
  for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200);

  endpoints = (await state()).metrics;
  // Usage records are written after the exchange ends: wait until the LLM call is in the metrics.
  await waitFor(
    "the LLM call in extproc-server's metrics",
    async () => {
      const extproc = endpoints.find((e) => e.component === "extproc-server");
      return extproc
        ? (await (await fetch(extproc.url)).text()).includes("gen_ai_client_token_usage_bucket")
        : false;
    },
    15_000,
  );
  for (const { component, url } of endpoints) {
    const response = await fetch(url);
    expect(response.status).toBe(200);
    pages.set(component, await response.text());
  }
}, 360_000);

afterAll(async () => {
  agent?.close();
  if (env) await warden(["down"]);
  await upstream?.close();
  if (home) rmSync(home, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

describe("metrics of a running stack", () => {
  test("warden status lists a metrics endpoint for authz-server, extproc-server, the control plane and Envoy", async () => {
    expect(endpoints.map((e) => e.component).sort()).toEqual(
      ["authz-server", "control-plane", "envoy", "extproc-server"].sort(),
    );
    const text = await warden(["status"]);
    for (const { url } of endpoints) expect(text.stdout).toContain(url);
    // Envoy's admin port stays on loopback.
    expect(endpoints.find((e) => e.component === "envoy")!.url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/stats\/prometheus$/,
    );
  });

  test.each(["authz-server", "extproc-server", "control-plane"])(
    "%s: its live /metrics passes promtool check metrics (parse and lint)",
    async (component) => {
      const page = pages.get(component);
      expect(page).toBeDefined();
      const checked = await promtool(["check", "metrics"], page);
      expect(checked.output).toBe("");
      expect(checked.code).toBe(0);
    },
  );

  test("Envoy's /stats/prometheus parses in promtool (its lint notes are Envoy's own names, e.g. _ms)", async () => {
    const checked = await promtool(["check", "metrics"], pages.get("envoy"));
    // 0: clean; 3: lint problems only (Envoy's counters lack _total, its timings are in ms); 1: unreadable.
    expect(checked.output).not.toContain("error while linting");
    expect([0, 3]).toContain(checked.code);
  });

  test("the traffic is in the metrics: decisions by outcome and reason, per-stage latency, GenAI tokens and cost, OpenBao", () => {
    const authz = pages.get("authz-server")!;
    expect(authz).toMatch(
      /warden_authz_decisions_total\{outcome="deny",reason="kya_pending",service="openai"\} [1-9]/,
    );
    expect(authz).toMatch(/warden_authz_decisions_total\{outcome="allow",[^}]*service="openai"\} [1-9]/);
    for (const stage of ["facts", "policy", "response"])
      expect(authz).toMatch(
        new RegExp(`warden_authz_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`),
      );
    expect(authz).toMatch(/warden_policy_info\{revision="[^"]+"\} 1/);
    expect(authz).toMatch(/warden_registry_agents [1-9]/);
    expect(authz).toMatch(
      /warden_svid_expiry_timestamp_seconds\{spiffe_id="spiffe:\/\/[^"]+\/warden\/authz"\}/,
    );

    const extproc = pages.get("extproc-server")!;
    // The stub provider reports 9 prompt and 5 completion tokens per call.
    expect(extproc).toMatch(
      /gen_ai_client_token_usage_sum\{gen_ai_operation_name="chat",gen_ai_provider_name="openai",[^}]*agent="metrics-agent"[^}]*gen_ai_token_type="input"\} (9|18|27|36|45)\b/,
    );
    expect(extproc).toMatch(/gen_ai_client_operation_duration_seconds_count\{[^}]*error_type="none"\} [1-9]/);
    expect(extproc).toMatch(
      /warden_openbao_request_duration_seconds_count\{operation="GET warden",outcome="ok"\} [1-9]/,
    );
    expect(extproc).toMatch(/warden_cache_requests_total\{cache="llm_keys",result="hit"\} [1-9]/);

    const controlPlane = pages.get("control-plane")!;
    expect(controlPlane).toMatch(/warden_registry_registrations\{kind="agent",status="active"\} [1-9]/);
    expect(controlPlane).toMatch(/http_server_request_duration_seconds_count\{http_route="[A-Za-z]+"/);
    expect(pages.get("envoy")!).toMatch(/envoy_http_downstream_rq_xx\{/);
  });

  test("no metrics page shows a secret or a raw user id", () => {
    for (const [component, page] of pages) {
      expect({ component, leaks: page.includes(LLM_KEY) }).toEqual({ component, leaks: false });
      // `warden login` users: the operator's and the reviewer's subjects.
      expect({ component, leaks: /user="(operator|reviewer|admin)[^"]*"/.test(page) }).toEqual({
        component,
        leaks: false,
      });
    }
  });

  test("every metric the dashboards and alerts read is one the components export", () => {
    const exported = new Set<string>();
    for (const page of pages.values())
      for (const [, name, type] of page.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        exported.add(name!);
        if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) exported.add(`${name}${s}`);
      }
    const sources = [
      ...readdirSync(DASHBOARDS_DIR).map((f) => readFileSync(join(DASHBOARDS_DIR, f), "utf8")),
      readFileSync(join(RULES_DIR, "warden-alerts.yml"), "utf8"),
    ];
    const referenced = new Set<string>();
    for (const source of sources)
      for (const [name] of source.matchAll(/\b(?:warden|gen_ai|mcp|http_server|envoy)_[a-z0-9_]+\b/g))
        if (!LABEL_NAMES.test(name)) referenced.add(name);
    expect([...referenced].filter((name) => !exported.has(name))).toEqual([]);
  });
});

describe("alert rules", () => {
  test("promtool check rules passes", async () => {
    const checked = await promtool(["check", "rules", "warden-alerts.yml"]);
    expect(checked.output).toContain("SUCCESS");
    expect(checked.code).toBe(0);
  });

  test("promtool test rules: each alert fires where it should and stays quiet where it should not", async () => {
    const tested = await promtool(["test", "rules", "warden-alerts.test.yml"]);
    expect(tested.output).toContain("SUCCESS");
    expect(tested.code).toBe(0);
    const alerts = [
      ...readFileSync(join(RULES_DIR, "warden-alerts.yml"), "utf8").matchAll(/alert: (\w+)/g),
    ].map((m) => m[1]);
    const tests = readFileSync(join(RULES_DIR, "warden-alerts.test.yml"), "utf8");
    for (const alert of alerts) expect(tests).toContain(`alertname: ${alert}`);
  });

  test("the example scrape config passes promtool check config", async () => {
    const checked = await promtool(["check", "config", "prometheus.yml"]);
    expect(checked.output).toContain("SUCCESS");
    expect(checked.code).toBe(0);
  });
});
