import { join } from "node:path";
import { readFileSync } from "node:fs";
import { instantiatePolicy, loadBundle, type LoadedPolicy } from "../../authz-server/src/policy/engine.js";
import { validatePolicyData } from "../../authz-server/src/policy/policy-data.js";
import { readTarGz } from "../../lib/src/policy-bundle/tar.js";
import {
  buildBundle,
  caseInput,
  objectUnion,
  POLICY_DIR,
  readCaseTable,
  removeDir,
  tempDir,
  type PolicyCase,
} from "../harness/policy-bundles.js";

/**
 * The decision table of policies/tests/cases.json, which `opa test` runs against the Rego, run here
 * through the compiled WebAssembly bundle: the policy that ships and the policy that is tested
 * must give the same answers.
 */
const table = readCaseTable();
const shippedData = JSON.parse(readFileSync(join(POLICY_DIR, "data.json"), "utf8")) as {
  warden: { config: Record<string, unknown> };
};
const REVISION = "decision-table";

/**
 * MCP servers come from the registry at run time (authz-server sets them as policy data); the table
 * gives them at its top level, and a case may replace them.
 */
interface McpData {
  mcp_servers?: Record<string, unknown>;
  mcp_external_services?: Record<string, unknown>;
}
const tableMcp = table as unknown as McpData;

function mcpDataOf(c: PolicyCase | null): { mcp_servers: unknown; mcp_external_services: unknown } {
  const own = (c ?? {}) as McpData;
  return {
    mcp_servers: own.mcp_servers ?? tableMcp.mcp_servers ?? {},
    mcp_external_services: own.mcp_external_services ?? tableMcp.mcp_external_services ?? {},
  };
}

let dir: string;
let wasm: Buffer;
let shipped: LoadedPolicy;
const variants = new Map<PolicyCase, LoadedPolicy>();

async function policyWith(config: unknown, c: PolicyCase | null): Promise<LoadedPolicy> {
  const data = { ...shippedData, warden: { ...shippedData.warden, config, ...mcpDataOf(c) } };
  const checked = validatePolicyData(data);
  // Cases about broken data (config: null) bypass the load-time check on purpose: they show what
  // the Rego itself does if such data ever reached it.
  const fallback = validatePolicyData(shippedData);
  if (!fallback.ok) throw new Error(fallback.problem);
  return instantiatePolicy(wasm, data, REVISION, checked.ok ? checked.config : fallback.config);
}

beforeAll(async () => {
  dir = tempDir("policy-decisions");
  const bundle = buildBundle({ out: join(dir, "bundle.tar.gz"), revision: REVISION });
  wasm = readTarGz(bundle).get("policy.wasm")!;
  // The shipped bundle, loaded as authz-server loads it, with the table's MCP servers set as data.
  const loaded = await loadBundle(bundle, { requireSignature: false });
  shipped = await policyWith(loaded.config, null);
  for (const c of table.cases) {
    const own = c as PolicyCase & McpData;
    if ("config" in c) variants.set(c, await policyWith(c.config, c));
    else if (c.config_patch)
      variants.set(c, await policyWith(objectUnion(shippedData.warden.config, c.config_patch), c));
    else if (own.mcp_servers || own.mcp_external_services)
      variants.set(c, await policyWith(shippedData.warden.config, c));
  }
}, 60_000);

afterAll(() => removeDir(dir));

describe("the compiled policy decides every case of the shared table like the Rego", () => {
  test.each(table.cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const policy = variants.get(c) ?? shipped;
    const decision = policy.evaluate(caseInput(table, c));
    expect({ allow: decision.allow, status: decision.status, reason: decision.reason }).toEqual({
      allow: c.expect.allow,
      status: c.expect.status,
      reason: c.expect.reason,
    });
    expect(decision.metadata).toMatchObject(c.expect.metadata ?? {});
    expect(decision.metadata.policy_revision).toBe(REVISION);
    if (!decision.allow) expect(typeof decision.metadata.message).toBe("string");
  });
});

describe("inputs the table cannot express in JSON", () => {
  test.each([
    ["undefined", undefined],
    ["a number", 42],
    ["an array", [table.base]],
    ["an empty object", {}],
  ])("an input that is %s is denied, never allowed", (_what, input) => {
    const decision = shipped.evaluate(input);
    expect(decision.allow).toBe(false);
    expect(decision.reason).toBe("input_invalid");
    expect(decision.status).toBe(500);
  });

  test("a base input with every optional section null is a clean denial with a reason", () => {
    const decision = shipped.evaluate({
      ...table.base,
      agent: null,
      kya: null,
      delegation: null,
      llm: null,
      mcp: null,
    });
    expect(decision).toMatchObject({ allow: false, status: 401, reason: "agent_unregistered" });
  });

  test("removing, nulling or retyping any single input field still gives a catalogued decision", () => {
    const catalogue = new Set(
      [
        ...readFileSync(join(POLICY_DIR, "warden", "authz", "reasons.rego"), "utf8").matchAll(
          /"(\w+)": \{"status"/g,
        ),
      ].map((m) => m[1]),
    );
    expect(catalogue.size).toBeGreaterThan(20);
    const leaves: string[][] = [];
    const walk = (value: unknown, path: string[]) => {
      leaves.push(path);
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        for (const [key, member] of Object.entries(value)) walk(member, [...path, key]);
      }
    };
    walk(table.base, []);
    const replaced = (value: unknown, path: string[], replacement: unknown): unknown => {
      if (path.length === 0) return replacement;
      const [key, ...rest] = path as [string, ...string[]];
      const object = value as Record<string, unknown>;
      // An undefined member is dropped when opa-wasm serialises the input: the field is removed.
      return { ...object, [key]: replaced(object[key], rest, replacement) };
    };
    const outcomes = new Set<string>();
    for (const path of leaves.slice(1)) {
      for (const replacement of [undefined, null, 0, "", [], {}, true, "unexpected"]) {
        const decision = shipped.evaluate(replaced(table.base, path, replacement));
        outcomes.add(decision.reason);
        if (decision.reason !== "allowed") {
          expect({
            path: path.join("."),
            replacement,
            reason: decision.reason,
            known: catalogue.has(decision.reason),
          }).toEqual({
            path: path.join("."),
            replacement,
            reason: decision.reason,
            known: true,
          });
        }
      }
    }
    expect(outcomes.size).toBeGreaterThan(10);
  });

  test("the same instance serves many evaluations without growing or leaking state between them", () => {
    const allowed = caseInput(table, table.cases[0]!);
    const denied = { ...(allowed as Record<string, unknown>), agent: null };
    for (let i = 0; i < 2_000; i++) {
      expect(shipped.evaluate(i % 2 ? denied : allowed).allow).toBe(i % 2 === 0);
    }
  });
});
