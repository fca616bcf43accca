/**
 * Time per decision of the authz-server's policy engine alone (opa-wasm evaluate + decision
 * validation, in one process, no gRPC): the engine-only counterpart of `opa bench`.
 * Run: node dist/bench/wasm-eval.js <bundle.tar.gz> <policy-input.json> [seconds=3]
 * Prints one JSON line: { ns_per_op, iterations, allow, reason }.
 */
import { readFileSync } from "node:fs";
import { loadBundle } from "../authz-server/src/policy/engine.js";

const [bundlePath, inputPath, secondsArg] = process.argv.slice(2);
if (!bundlePath || !inputPath) {
  process.stderr.write("usage: wasm-eval <bundle.tar.gz> <policy-input.json> [seconds]\n");
  process.exit(2);
}
const policy = await loadBundle(readFileSync(bundlePath), { requireSignature: false });
const input = JSON.parse(readFileSync(inputPath, "utf8")) as unknown;
for (let i = 0; i < 5_000; i++) policy.evaluate(input); // warm-up: let V8 optimise
const budgetNs = Number(secondsArg ?? 3) * 1e9;
const started = process.hrtime.bigint();
let iterations = 0;
let decision = policy.evaluate(input);
while (Number(process.hrtime.bigint() - started) < budgetNs) {
  for (let i = 0; i < 100; i++) decision = policy.evaluate(input);
  iterations += 100;
}
const elapsed = Number(process.hrtime.bigint() - started);
process.stdout.write(
  `${JSON.stringify({ ns_per_op: Math.round(elapsed / iterations), iterations, allow: decision.allow, reason: decision.reason })}\n`,
);
