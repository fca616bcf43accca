import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RUN_DIR, sleep, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import type { Stack } from "../harness/stack.js";
import { startOpenAiSidecar, type OpenAiSidecar } from "./openai-sidecar-fixture.js";

/**
 * The response-path soak: mixed hostile LLM traffic through the real sidecar (loopback only) for
 * WARDEN_SOAK_MINUTES (default 30) at WARDEN_SOAK_RPS calls a second (default 50, open loop, at most
 * MAX_IN_FLIGHT at once): JSON answers, streams with and without usage asked for, 1–4 MiB embeddings
 * echoing the key (every 50th 16 MiB), NDJSON / octet-stream / untyped answers, slow streams,
 * streams the provider cuts, streams the agent leaves early, and the key cut between two writes at
 * every offset. Every call must answer within 30 s, no byte the agent receives may hold the key,
 * every call ext_authz allowed must have its usage record, Envoy and both servers must stay up, and
 * extproc-server's memory must not grow. Opt-in: WARDEN_LONG_TESTS=1 (figures in .run/llm-soak.json).
 */
const LONG = process.env.WARDEN_LONG_TESTS === "1";
const MINUTES = Number(process.env.WARDEN_SOAK_MINUTES ?? 30);
const RPS = Number(process.env.WARDEN_SOAK_RPS ?? 50);
const MAX_IN_FLIGHT = 400;
const PLACEHOLDER = "sk-placeholder-the-agent-holds-nothing";
const OPENAI_KEY = "sk-vault-acme-openai-soak-7e6d5c4b3a29";
const MiB = 1024 * 1024;

let sidecar: OpenAiSidecar | undefined;
let stack: Stack;

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

type Kind =
  | "json"
  | "stream"
  | "stream_usage"
  | "embeddings"
  | "ndjson"
  | "octet"
  | "none"
  | "left"
  | "slow"
  | "cut"
  | "split";
const KINDS: Kind[] = [
  "json",
  "stream",
  "stream_usage",
  "embeddings",
  "ndjson",
  "octet",
  "none",
  "left",
  "slow",
  "cut",
  "split",
];

/** Every byte the agent received, also when the stream ended early (a cut, or the agent leaving). */
async function received(response: Response, leaveAfterFirst: boolean): Promise<Buffer> {
  const reader = response.body!.getReader();
  const parts: Uint8Array[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      if (leaveAfterFirst) {
        await reader.cancel();
        break;
      }
    }
  } catch {
    // a stream the provider cut ends in an error after what it delivered
  }
  return Buffer.concat(parts);
}

/** `decided`: ext_authz allowed it (only such calls reach ext_proc and get a usage record). */
async function call(kind: Kind, n: number): Promise<{ leaked: boolean; status: number; decided: boolean }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30_000);
  const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: `call ${n}` }] };
  const shapes: Partial<Record<Kind, string>> = { ndjson: "ndjson", octet: "octet", none: "none" };
  const path = kind === "embeddings" ? "/embeddings" : "/chat/completions";
  const streamed = ["stream", "left", "slow", "cut", "split"].includes(kind);
  const body =
    kind === "embeddings"
      ? { model: "text-embedding-3-small", input: ["x"] }
      : kind === "stream_usage"
        ? { ...chat, stream: true, stream_options: { include_usage: true } }
        : { ...chat, stream: streamed };
  const headers: Record<string, string> = {
    authorization: `Bearer ${PLACEHOLDER}`,
    "content-type": "application/json",
    "x-stub-echo-key": "1",
    "x-stub-events": String(5 + (n % 20)),
  };
  if (kind === "embeddings") headers["x-stub-bytes"] = String((n % 50 === 3 ? 16 : 1 + (n % 4)) * MiB);
  if (shapes[kind]) headers["x-stub-shape"] = shapes[kind]!;
  if (kind === "slow") Object.assign(headers, { "x-stub-events": "10", "x-stub-interval-ms": "100" });
  if (kind === "cut") headers["x-stub-cut-after"] = String(1 + (n % 4));
  // Over the calls, the key is cut at every offset from 0 to its whole length.
  if (kind === "split") headers["x-stub-split-key-at"] = String(n % (OPENAI_KEY.length + 1));
  try {
    const response = await fetch(`${stack.agentUrl}/openai/v1${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    const bytes = await received(response, kind === "left");
    const decided =
      kind === "left"
        ? response.headers.has("x-warden-decision-id")
        : response.status === 200 || !bytes.includes('"decision_id":null');
    const headerText = [...response.headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
    return {
      leaked: bytes.includes(OPENAI_KEY) || headerText.includes(OPENAI_KEY),
      status: response.status,
      decided,
    };
  } finally {
    clearTimeout(timer);
  }
}

(LONG ? describe : describe.skip)("LLM response path soak (WARDEN_LONG_TESTS=1)", () => {
  beforeAll(async () => {
    sidecar = await startOpenAiSidecar("llm-soak", OPENAI_KEY, { extprocEnv: { WARDEN_LOG_LEVEL: "info" } });
    ({ stack } = sidecar);
  }, 180_000);

  afterAll(() => sidecar?.close(), TEARDOWN_TIMEOUT_MS);

  test(
    `${MINUTES} minutes of mixed traffic: no stall, no leak, no crash, every call metered`,
    async () => {
      const until = Date.now() + MINUTES * 60_000;
      let calls = 0;
      let leaks = 0;
      let undecided = 0;
      const statuses = new Map<string, number>();
      const failures: string[] = [];
      const memory: { at_s: number; extproc_mib: number; authz_mib: number; envoy_mib: number }[] = [];
      const started = Date.now();
      const sampler = setInterval(() => {
        memory.push({
          at_s: Math.round((Date.now() - started) / 1000),
          extproc_mib: Math.round(rssMiB(stack.extproc.process().pid)),
          authz_mib: Math.round(rssMiB(stack.authz.process().pid)),
          envoy_mib: Math.round(rssMiB(stack.envoy.process.pid)),
        });
      }, 5_000);
      // Open loop: one call every 1000/RPS ms whatever the answers take, at most MAX_IN_FLIGHT at once.
      const inFlight = new Set<Promise<void>>();
      let skipped = 0;
      let peakInFlight = 0;
      for (let n = 0; Date.now() < until; n++) {
        const due = started + (n * 1000) / RPS;
        if (due > Date.now()) await sleep(due - Date.now());
        if (inFlight.size >= MAX_IN_FLIGHT) {
          skipped++;
          continue;
        }
        const kind = KINDS[n % KINDS.length]!;
        calls++;
        const done: Promise<void> = call(kind, n)
          .then((result) => {
            if (result.leaked) leaks++;
            if (!result.decided) undecided++;
            const key = `${kind} ${result.status}`;
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
          })
          .catch((error: unknown) => {
            failures.push(`call ${n} (${kind}): ${String(error)}`);
          })
          .finally(() => inFlight.delete(done));
        inFlight.add(done);
        peakInFlight = Math.max(peakInFlight, inFlight.size);
      }
      const sendingMs = Date.now() - started;
      await Promise.all(inFlight);
      clearInterval(sampler);
      await sleep(3_000);
      const records = stack.extproc
        .process()
        .log()
        .split("\n")
        .filter((line) => line.includes('"llm usage"')).length;
      const quarter = Math.max(1, Math.floor(memory.length / 4));
      const median = (values: number[]) =>
        [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
      const early = median(memory.slice(0, quarter).map((m) => m.extproc_mib));
      const late = median(memory.slice(-quarter).map((m) => m.extproc_mib));
      const figures = {
        minutes: MINUTES,
        rps_target: RPS,
        rps_achieved: Math.round((calls / (sendingMs / 1000)) * 10) / 10,
        calls,
        skipped_over_in_flight_cap: skipped,
        peak_in_flight: peakInFlight,
        usage_records: records,
        undecided,
        leaks,
        failures: failures.length,
        statuses: Object.fromEntries(statuses),
        extproc_rss_mib: {
          early_median: early,
          late_median: late,
          max: Math.max(...memory.map((m) => m.extproc_mib)),
        },
        authz_rss_mib: { max: Math.max(...memory.map((m) => m.authz_mib)) },
        envoy_rss_mib: { max: Math.max(...memory.map((m) => m.envoy_mib)) },
      };
      writeFileSync(join(RUN_DIR, "llm-soak.json"), `${JSON.stringify({ ...figures, memory }, null, 2)}\n`);
      process.stdout.write(`llm soak: ${JSON.stringify(figures)}\n`);
      expect(failures.slice(0, 5)).toEqual([]);
      expect(leaks).toBe(0);
      // Every answer is 200, but for a stream the provider cut: 502 when it went before the answer
      // reached the agent (Envoy's own reply), else the 200 stream ends early.
      expect([...statuses.keys()].filter((key) => !key.endsWith(" 200") && key !== "cut 502")).toEqual([]);
      // A call ext_authz did not allow (e.g. its timeout under load) never reaches ext_proc.
      expect(records).toBe(calls - undecided);
      expect(skipped).toBe(0);
      expect(stack.envoy.process.running).toBe(true);
      expect(stack.authz.process().running).toBe(true);
      expect(stack.extproc.process().running).toBe(true);
      expect((await fetch(`${stack.envoy.adminUrl}/ready`)).status).toBe(200);
      // No growth beyond noise (the tokenizer, loaded on the first estimate, is ≈70 MiB once).
      expect(late).toBeLessThan(early * 1.5 + 100);
    },
    (MINUTES + 5) * 60_000,
  );
});
