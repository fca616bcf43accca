/**
 * CPU time of one authorize() in-process (facts, body limits, policy input, response) with a trivial
 * policy, so only Warden's own code is measured: a realistic LLM Check, and one with a 217 KiB body
 * (the JSON limits scan and the parse). CPU time, not wall time: the figure holds on a loaded machine.
 * Run: npm run build && node dist/bench/authorize-cpu.js [iterations=100000]
 */
import { authorize, REFUSE_ALL_DELEGATIONS, type AuthorizerDeps } from "../authz-server/src/authorizer.js";
import { EMPTY_DIRECTORY } from "../authz-server/src/identity/source.js";
import { auth, type CheckRequest } from "../lib/src/envoy/services.js";
import { realisticCheckRequestBytes } from "./fixtures/check-request.js";

const iterations = Number(process.argv[2] ?? 100_000);
const deps: AuthorizerDeps = {
  policy: () => ({
    revision: "bench",
    evaluate: () => ({ allow: true, status: 200, reason: "ok", headers: {}, metadata: {} }),
  }),
  directory: EMPTY_DIRECTORY,
  delegations: REFUSE_ALL_DELEGATIONS,
  nowNs: () => 1.7e18,
  newDecisionId: () => "bench-decision",
};

function withBody(body: string): CheckRequest {
  const check = auth.CheckRequest.decode(realisticCheckRequestBytes());
  check.attributes!.request!.http!.rawBody = Buffer.from(body);
  return check;
}

const turn = (i: number) => ({ role: "user", content: "lorem ipsum dolor sit amet ".repeat(40) + i });
const large = JSON.stringify({ model: "gpt-4o", messages: Array.from({ length: 200 }, (_, i) => turn(i)) });

function measure(name: string, check: CheckRequest, n: number): void {
  for (let i = 0; i < Math.min(n, 20_000); i++) authorize(check, deps);
  const rounds: number[] = [];
  for (let r = 0; r < 9; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) authorize(check, deps);
    const used = process.cpuUsage(start);
    rounds.push((used.user + used.system) / n);
  }
  rounds.sort((a, b) => a - b);
  console.log(
    JSON.stringify({ bench: "authorize", case: name, cpu_us_best: rounds[0], cpu_us_median: rounds[4] }),
  );
}

measure("realistic LLM check", auth.CheckRequest.decode(realisticCheckRequestBytes()), iterations);
measure("LLM check, 217 KiB body", withBody(large), Math.max(1, Math.round(iterations / 50)));
