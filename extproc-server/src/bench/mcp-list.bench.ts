/**
 * Cost of filtering MCP list answers in-process (no gRPC, no Envoy): a 5,000-tool `tools/list`
 * answer (half visible) through ListFilter in 64 KiB chunks, as JSON and as one SSE event, against
 * a plain pass of the same bytes through the scrubber alone; best of 5 rounds of 20 answers. Also a
 * 20 MB SSE stream of notifications through SseListFilter (throughput and heap growth).
 * Run: npm run build && node --expose-gc dist/extproc-server/src/bench/mcp-list.bench.js (CHUNK_KIB=16 for other chunks)
 */
import { ListFilter } from "../../../lib/src/mcp/list-filter.js";
import type { McpVisibility } from "../../../lib/src/mcp/visibility.js";
import { SecretScrubber } from "../credentials/scrub.js";
import { StreamScrubber } from "../credentials/stream-scrubber.js";
import { SseListFilter } from "../mcp/sse-list-filter.js";

const VISIBILITY: McpVisibility = {
  tools: { rules: [{ pattern: "read_*", visible: true }], default_visible: false },
  prompts: { rules: [], default_visible: false },
  resources: { rules: [], default_visible: false },
  capabilities: ["read_*"],
};
const TOOLS = new Set(["tools"] as const);
const CHUNK = Number(process.env.CHUNK_KIB ?? 64) * 1024;
const answer = Buffer.from(
  JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    result: {
      tools: Array.from({ length: 5000 }, (_, i) => ({
        name: `${i % 2 === 0 ? "read" : "write"}_${i}`,
        description: `tool number ${i}, which does ${i % 2 === 0 ? "reading" : "writing"}`,
        inputSchema: { type: "object", properties: { path: { type: "string" } } },
      })),
      nextCursor: "next",
    },
  }),
);
const sse = Buffer.concat([Buffer.from("event: message\ndata: "), answer, Buffer.from("\n\n")]);
const scrubber = new SecretScrubber(["gho_user-token-held-in-vault-0123456789"]);

function chunks(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK) out.push(bytes.subarray(i, i + CHUNK));
  return out;
}

function best(label: string, run: () => void): number {
  let fastest = Infinity;
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) run();
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - started) / 1e6 / 20);
  }
  process.stdout.write(`${label}: ${fastest.toFixed(2)} ms per answer\n`);
  return fastest;
}

const json = chunks(answer);
const sseParts = chunks(sse);
process.stdout.write(`5,000-tool answer: ${answer.length} bytes\n`);
best("scrub only", () => {
  const scrub = new StreamScrubber(scrubber);
  json.forEach((part, i) => scrub.chunk(part, i === json.length - 1));
});
best("filter + scrub (JSON)", () => {
  const filter = new ListFilter(VISIBILITY, TOOLS);
  const scrub = new StreamScrubber(scrubber);
  json.forEach((part, i) => scrub.chunk(filter.push(part), i === json.length - 1));
});
best("filter + scrub (SSE)", () => {
  const filter = new SseListFilter(() => new ListFilter(VISIBILITY, TOOLS));
  const scrub = new StreamScrubber(scrubber);
  sseParts.forEach((part, i) =>
    scrub.chunk(filter.push(part, i === sseParts.length - 1), i === sseParts.length - 1),
  );
});

const note = Buffer.from(
  `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1, message: "x".repeat(16 * 1024) } })}\n\n`,
);
const stream = chunks(
  Buffer.concat(Array.from({ length: Math.ceil((20 * 1024 * 1024) / note.length) }, () => note)),
);
globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
let heapPeak = heapBefore;
const started = process.hrtime.bigint();
const filter = new SseListFilter(() => new ListFilter(VISIBILITY, TOOLS));
stream.forEach((part, i) => {
  filter.push(part, i === stream.length - 1);
  if (i % 16 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
});
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(
  `20 MB SSE through the list filter: ${(20 / seconds).toFixed(0)} MB/s, heap growth at most ${((heapPeak - heapBefore) / 1024 / 1024).toFixed(1)} MiB\n`,
);
