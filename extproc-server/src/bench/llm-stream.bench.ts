/**
 * Cost per SSE chunk of an LLM exchange in-process (no gRPC transport, no Envoy): an OpenAI chat
 * stream, one event per chunk as providers write them, through StreamProcessor + LlmProvider (decode
 * for usage, scrub, the reader's verdict), decoded and encoded as the server does it. Exchanges of
 * 500 chunks each, so per-exchange state stays realistic. Also the scan of a plain body (MB/s).
 * Run: npm run build && node dist/extproc-server/src/bench/llm-stream.bench.js
 */
import { extProc, type IProcessingResponse } from "../../../lib/src/envoy/services.js";
import { createLogger } from "../../../lib/src/logger.js";
import type { LlmKeySource } from "../credentials/key-source.js";
import { SecretScrubber } from "../credentials/scrub.js";
import { decodeProcessingRequest } from "../incoming.js";
import { LlmProvider } from "../providers/llm/provider.js";
import { StreamProcessor } from "../stream-processor.js";
import { encodeRequest, responseBodyRequest, wire } from "../testing/envoy-messages.js";

const KEY = "sk-vault-held-acme-openai-0123456789";
const keys: LlmKeySource = {
  keyFor: () => KEY,
  invalidate: () => undefined,
  scrubber: () => new SecretScrubber(["sk-another-tenant-key-abcdefghijkl"]),
};
const logger = createLogger("bench", "silent");
const provider = new LlmProvider({ keys, usage: { record: () => undefined }, defaultTenant: "acme" });
const event = (i: number) =>
  `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":" word${i}"},"finish_reason":null}],"usage":null}\n\n`;
// The provider's usage chunk and [DONE] end each exchange, as they do in production.
const CHUNKS = [
  ...Array.from({ length: 498 }, (_, i) => encodeRequest(responseBodyRequest(event(i)))),
  encodeRequest(
    responseBodyRequest(
      'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":498,"total_tokens":510}}\n\n',
    ),
  ),
  encodeRequest(responseBodyRequest("data: [DONE]\n\n", true)),
];

async function exchange(contentType = "text/event-stream"): Promise<StreamProcessor> {
  const processor = new StreamProcessor({ providers: [provider], logger });
  await processor.process(wire.requestHeaders({ ":method": "POST", ":path": "/openai/v1/chat/completions" }));
  await processor.process(wire.requestBody('{"model":"gpt-4o-mini","stream":true,"messages":[]}'));
  await processor.process(wire.responseHeaders({ ":status": "200", "content-type": contentType }));
  return processor;
}

function encode(reply: unknown): number {
  if (!reply || reply instanceof Promise) throw new Error("expected a synchronous reply");
  return extProc.ProcessingResponse.encode(reply as IProcessingResponse).finish().length;
}

async function perChunk(rounds: number): Promise<number> {
  let ns = 0n;
  for (let round = 0; round < rounds; round++) {
    const processor = await exchange();
    const start = process.hrtime.bigint();
    for (const bytes of CHUNKS) encode(processor.process(decodeProcessingRequest(bytes)));
    ns += process.hrtime.bigint() - start;
    processor.end();
  }
  return Number(ns) / (rounds * CHUNKS.length);
}

const rounds = Number(process.env.ROUNDS ?? 400);
await perChunk(40); // warm-up
const results: number[] = [];
// The plain-body case below needs this change's streamed body path (before it, JSON was BUFFERED).
const sseOnly = process.env.SSE_ONLY === "1";
for (let run = 0; run < 3; run++) results.push(await perChunk(rounds));
console.log(
  JSON.stringify({
    bench: "extproc-llm-stream",
    case: "SSE chunk (one OpenAI event): decode + process + encode",
    us_per_chunk_best_of_3: Math.round(Math.min(...results)) / 1000,
    runs: results.map((ns) => Math.round(ns) / 1000),
  }),
);

if (sseOnly) process.exit(0);
// A plain body scanned chunk by chunk (the path every non-SSE LLM answer now takes).
const body = Buffer.alloc(1024 * 1024, "0.0123456789,");
const plain = await exchange("application/json");
const bodyChunk = encodeRequest(responseBodyRequest(body));
const start = process.hrtime.bigint();
const MIB = 64;
for (let i = 0; i < MIB; i++) encode(plain.process(decodeProcessingRequest(bodyChunk)));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(
  JSON.stringify({
    bench: "extproc-llm-stream",
    case: "plain body, 1 MiB chunks: decode + scan + encode",
    mib_per_s: Math.round(MIB / seconds),
  }),
);
