import { createRequire } from "node:module";
import { join } from "node:path";
import { directEvaluator } from "../../authz-server/src/policy/wasm-input.js";
import { readTarGz } from "../../lib/src/policy-bundle/tar.js";
import { buildBundle, caseInput, readCaseTable, removeDir, tempDir } from "../harness/policy-bundles.js";

/**
 * The evaluate hot path that writes the input straight into the Wasm instance's memory decides
 * exactly as opa-wasm's own evaluate does, on the shipped policy and its decision table, also when
 * the input outgrows the instance's memory and after the data is replaced.
 */
type OpaWasm = {
  loadPolicy(wasm: Buffer, memory?: { initial: number; maximum: number }): Promise<OpaPolicy>;
};
type OpaPolicy = {
  entrypoints: Record<string, number>;
  evaluate(input: unknown, entrypoint: number): unknown;
  setData(data: object): void;
};
const { loadPolicy } = createRequire(import.meta.url)("@open-policy-agent/opa-wasm") as OpaWasm;

const table = readCaseTable();
let dir: string;
let wasm: Buffer;
let data: object;

beforeAll(() => {
  dir = tempDir("wasm-input");
  const files = readTarGz(buildBundle({ out: join(dir, "b.tar.gz"), revision: "r" }));
  wasm = files.get("policy.wasm") ?? files.get("/policy.wasm")!;
  data = JSON.parse(files.get("data.json")!.toString("utf8")) as object;
}, 60_000);
afterAll(() => removeDir(dir));

async function twoInstances(): Promise<{ reference: OpaPolicy; ours: OpaPolicy; entrypoint: number }> {
  const reference = await loadPolicy(wasm, { initial: 16, maximum: 4096 });
  const ours = await loadPolicy(wasm, { initial: 16, maximum: 4096 });
  reference.setData(data);
  ours.setData(data);
  return { reference, ours, entrypoint: reference.entrypoints["warden/authz/decision"]! };
}

test("every case of the decision table gets the same result as opa-wasm's evaluate", async () => {
  const { reference, ours, entrypoint } = await twoInstances();
  const direct = directEvaluator(ours, entrypoint)!;
  expect(direct).toBeDefined();
  expect(table.cases.length).toBeGreaterThan(3);
  for (const c of table.cases) {
    const input = caseInput(table, c);
    expect(direct(input)).toEqual(reference.evaluate(input, entrypoint));
  }
  expect(direct({})).toEqual(reference.evaluate({}, entrypoint));
});

test("an input larger than the instance's memory grows it; non-ASCII text arrives intact", async () => {
  const { reference, ours, entrypoint } = await twoInstances();
  const direct = directEvaluator(ours, entrypoint)!;
  const allowed = caseInput(
    table,
    table.cases.find((c) => c.expect.allow)!,
  ) as Record<string, unknown>;
  const request = allowed.request as Record<string, unknown>;
  const big = { ...allowed, request: { ...request, body: { note: "ü€😀".repeat(400_000) } } };
  const expected = reference.evaluate(big, entrypoint);
  expect(direct(big)).toEqual(expected);
  expect(direct(allowed)).toEqual(reference.evaluate(allowed, entrypoint));
});

test("data replaced after load is what the next evaluation reads", async () => {
  const { reference, ours, entrypoint } = await twoInstances();
  const direct = directEvaluator(ours, entrypoint)!;
  const allowed = caseInput(
    table,
    table.cases.find((c) => c.expect.allow)!,
  );
  const before = direct(allowed);
  reference.setData({});
  ours.setData({});
  const after = direct(allowed);
  expect(after).toEqual(reference.evaluate(allowed, entrypoint));
  expect(after).not.toEqual(before);
});

test("an object that is not an ABI 1.2 instance is left to opa-wasm", () => {
  expect(directEvaluator({}, 0)).toBeUndefined();
  expect(directEvaluator({ minorVersion: 1, mem: {}, dataAddr: 0, dataHeapPtr: 0 }, 0)).toBeUndefined();
});
