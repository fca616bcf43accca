import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RUN_DIR, sleep, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import type { Stack } from "../harness/stack.js";
import { startOpenAiSidecar, type OpenAiSidecar } from "./openai-sidecar-fixture.js";

/**
 * The response-path soak: mixed LLM traffic through the real sidecar (loopback only, bounded concurrency)
 * for WARDEN_SOAK_MINUTES (default 30): JSON answers, streams with and without usage asked for,
 * 1–20 MiB embeddings echoing the key, NDJSON / octet-stream / untyped answers, streams the agent
 * leaves early. Every call must answer within 30 s, no key may reach the agent, every call must have
 * its usage record, Envoy must stay up, and extproc-server's memory must not grow. Opt-in:
 * WARDEN_LONG_TESTS=1 (figures in .run/llm-soak.json).
 */
const LONG = process.env.WARDEN_LONG_TESTS === "1";
const MINUTES = Number(process.env.WARDEN_SOAK_MINUTES ?? 30);
const CONCURRENCY = 4;
const PLACEHOLDER = "sk-placeholder-the-agent-holds-nothing";
const OPENAI_KEY = "sk-vault-acme-openai-soak-7e6d5c4b3a29";
const MiB = 1024 * 1024;

let sidecar: OpenAiSidecar | undefined;
let stack: Stack;

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

type Kind = "json" | "stream" | "stream_usage" | "embeddings" | "ndjson" | "octet" | "none" | "left";
const KINDS: Kind[] = ["json", "stream", "stream_usage", "embeddings", "ndjson", "octet", "none", "left"];

/** `decided`: ext_authz allowed it (only such calls reach ext_proc and get a usage record). */
async function call(kind: Kind, n: number): Promise<{ leaked: boolean; status: number; decided: boolean }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30_000);
  const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: `call ${n}` }] };
  const shapes: Partial<Record<Kind, string>> = { ndjson: "ndjson", octet: "octet", none: "none" };
  const path = kind === "embeddings" ? "/embeddings" : "/chat/completions";
  const body =
    kind === "embeddings"
      ? { model: "text-embedding-3-small", input: ["x"] }
      : kind === "stream_usage"
        ? { ...chat, stream: true, stream_options: { include_usage: true } }
        : { ...chat, stream: kind === "stream" || kind === "left" };
  const headers: Record<string, string> = {
    authorization: `Bearer ${PLACEHOLDER}`,
    "content-type": "application/json",
    "x-stub-echo-key": "1",
    "x-stub-events": String(5 + (n % 20)),
  };
  if (kind === "embeddings") headers["x-stub-bytes"] = String((1 + (n % 20)) * MiB);
  if (shapes[kind]) headers["x-stub-shape"] = shapes[kind]!;
  try {
    const response = await fetch(`${stack.agentUrl}/openai/v1${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (kind === "left") {
      const reader = response.body!.getReader();
      const first = await reader.read();
      await reader.cancel();
      return {
        leaked: Buffer.from(first.value ?? []).includes(OPENAI_KEY),
        status: response.status,
        decided: response.headers.has("x-warden-decision-id"),
      };
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    const decided = response.status === 200 || !bytes.includes('"decision_id":null');
    return { leaked: bytes.includes(OPENAI_KEY), status: response.status, decided };
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
      const statuses = new Map<number, number>();
      const failures: string[] = [];
      const memory: { at_s: number; extproc_mib: number; envoy_mib: number }[] = [];
      const started = Date.now();
      const sampler = setInterval(() => {
        memory.push({
          at_s: Math.round((Date.now() - started) / 1000),
          extproc_mib: Math.round(rssMiB(stack.extproc.process().pid)),
          envoy_mib: Math.round(rssMiB(stack.envoy.process.pid)),
        });
      }, 5_000);
      const worker = async (id: number) => {
        for (let n = id; Date.now() < until; n += CONCURRENCY) {
          const kind = KINDS[n % KINDS.length]!;
          calls++;
          try {
            const result = await call(kind, n);
            if (result.leaked) leaks++;
            if (!result.decided) undecided++;
            statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
          } catch (error) {
            failures.push(`call ${n} (${kind}): ${String(error)}`);
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, id) => worker(id)));
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
        calls,
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
        envoy_rss_mib: { max: Math.max(...memory.map((m) => m.envoy_mib)) },
      };
      writeFileSync(join(RUN_DIR, "llm-soak.json"), `${JSON.stringify({ ...figures, memory }, null, 2)}\n`);
      process.stdout.write(`llm soak: ${JSON.stringify(figures)}\n`);
      expect(failures.slice(0, 5)).toEqual([]);
      expect(leaks).toBe(0);
      expect([...statuses.keys()]).toEqual([200]);
      // A call ext_authz did not allow (e.g. its timeout under load) never reaches ext_proc.
      expect(records).toBe(calls - undecided);
      expect(stack.envoy.process.running).toBe(true);
      expect((await fetch(`${stack.envoy.adminUrl}/ready`)).status).toBe(200);
      // No growth beyond noise (the tokenizer, loaded on the first estimate, is ≈70 MiB once).
      expect(late).toBeLessThan(early * 1.5 + 100);
    },
    (MINUTES + 5) * 60_000,
  );
});
