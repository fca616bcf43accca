import { join } from "node:path";
import { loadBundle, type LoadedPolicy } from "../../authz-server/src/policy/engine.js";
import type { McpPolicyData } from "../../authz-server/src/policy/mcp-data.js";
import { isVisible, readMcpVisibility } from "../../lib/src/mcp/visibility.js";
import { serverToolRulesSchema, type ItemRule } from "../../lib/src/mcp/tool-rules.js";
import { buildBundle, objectUnion, readCaseTable, removeDir, tempDir } from "../harness/policy-bundles.js";

/**
 * extproc-server shows a caller the tools `mcp_visibility` (from tools/list) lets through; the policy
 * decides each tools/call. They must agree: a tool is listed exactly when calling it would be allowed
 * or held for approval. Checked through the compiled bundle, with the rules set as policy data the
 * way authz-server sets them (setMcpData), for many generated rules, callers and tools.
 */
const SERVER = "files-mcp";
const TOOLS = [
  "read_file",
  "read_secret",
  "write_file",
  "delete_all",
  "delete_tmp",
  "admin",
  "a",
  "ab",
  "abc",
  SERVER,
];
const KEYS = [
  "read_*",
  "read_secret",
  "write_file",
  "delete_*",
  "delete_tmp",
  "a*",
  "ab*",
  "abc",
  "*",
  "admin",
];
const CAPABILITIES = ["mcp:*", "mcp:read_*", "mcp:a*", "mcp:write_file", "m*", "*", "llm:chat", "mcp:ab"];
const SCOPES = ["files:read", "files:write"];

/** Deterministic, so a failure names a case that can be replayed. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function subset<T>(random: () => number, items: readonly T[], p = 0.5): T[] {
  return items.filter(() => random() < p);
}

function randomRule(random: () => number): ItemRule {
  const rule: ItemRule = {};
  const who = random();
  if (who < 0.2) rule.agents = ["*"];
  else if (who < 0.35) rule.agents = ["code-helper"];
  else if (who < 0.45) rule.agents = ["spiffe://warden.local/agent/other"];
  else if (who < 0.5) rule.agents = [];
  if (random() < 0.3) rule.teams = [pick(random, ["engineering", "security"])];
  if (random() < 0.3) rule.min_kya_level = 1 + Math.floor(random() * 3);
  if (random() < 0.3) rule.scopes = subset(random, SCOPES, 0.6);
  if (random() < 0.2) rule.approval = "required";
  if (random() < 0.15) rule.deny = true;
  return rule;
}

function randomScenario(random: () => number) {
  const tools: Record<string, ItemRule> = {};
  for (const key of subset(random, KEYS, 0.4)) tools[key] = randomRule(random);
  const rules = serverToolRulesSchema.parse({ default: random() < 0.3 ? "allow" : "deny", tools });
  const delegated = random() < 0.5;
  const caller = {
    agent: {
      name: pick(random, ["code-helper", "other"]),
      team: pick(random, ["engineering", "security", ""]),
    },
    kya: {
      level: 1 + Math.floor(random() * 3),
      verified_capabilities: [`mcp:${SERVER}`, ...subset(random, CAPABILITIES, 0.25)],
    },
    delegation: delegated
      ? {
          present: true,
          valid: true,
          error: null,
          id: "del-1",
          user: { id: "usr-1", tenant: "acme" },
          scopes: subset(random, SCOPES),
          destinations: [],
          expires_at: 1_800_000_000_000_000_000,
        }
      : undefined,
  };
  return { rules, caller };
}

const table = readCaseTable();
let dir: string;
let policy: LoadedPolicy;

beforeAll(async () => {
  dir = tempDir("mcp-visibility");
  policy = await loadBundle(buildBundle({ out: join(dir, "bundle.tar.gz"), revision: "agreement" }), {
    requireSignature: false,
  });
}, 60_000);

afterAll(() => removeDir(dir));

function input(caller: Record<string, unknown>, mcp: Record<string, unknown>): unknown {
  return objectUnion(table.base, {
    ...caller,
    request: { method: "POST", host: "sidecar.local", path: "/mcp" },
    destination: { service: SERVER, kind: "mcp" },
    llm: null,
    mcp: {
      kind: "request",
      arguments_digest: "sha256:x",
      protocol_version: "2025-06-18",
      upstream: "server",
      ...mcp,
    },
  });
}

test("a tool is listed exactly when calling it would be allowed or held for approval", () => {
  const random = generator(20261207);
  let listed = 0;
  let hidden = 0;
  for (let scenario = 0; scenario < 300; scenario++) {
    const { rules, caller } = randomScenario(random);
    const data: McpPolicyData = { mcp_servers: { [SERVER]: rules }, mcp_external_services: {} };
    policy.setMcpData(data);
    const callerPatch = caller.delegation ? caller : { agent: caller.agent, kya: caller.kya };
    const list = policy.evaluate(input(callerPatch, { method: "tools/list", name: null }));
    expect(list.reason).toBe("allowed");
    const visibility = readMcpVisibility(list.metadata);
    expect(visibility).not.toBeNull();
    for (const tool of TOOLS) {
      const decision = policy.evaluate(input(callerPatch, { method: "tools/call", name: tool }));
      const callable = decision.allow || decision.reason === "approval_required";
      const visible = isVisible(visibility!, "tools", tool);
      if (visible !== callable)
        throw new Error(
          `scenario ${scenario}, tool ${tool}: listed ${visible}, call ${decision.reason}; ` +
            JSON.stringify({ rules: rules.tools, default: rules.default, caller }),
        );
      if (visible) listed += 1;
      else hidden += 1;
    }
  }
  // The generated cases exercise both answers plenty.
  expect(listed).toBeGreaterThan(200);
  expect(hidden).toBeGreaterThan(200);
});

test("without the server in the policy data, its tools are neither listed nor callable", () => {
  policy.setMcpData({ mcp_servers: {}, mcp_external_services: {} });
  expect(policy.evaluate(input({}, { method: "tools/list", name: null })).reason).toBe("destination_unknown");
  expect(policy.evaluate(input({}, { method: "tools/call", name: "read_file" })).reason).toBe(
    "destination_unknown",
  );
});
