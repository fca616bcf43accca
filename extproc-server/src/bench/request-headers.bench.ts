/**
 * Cost of one request-headers message in-process (no gRPC transport): the processor alone, and
 * decode + process + encode as the server does it for every HTTP request.
 * Run: npm run build && node dist/extproc-server/src/bench/request-headers.bench.js
 */
import { extProc, type IProcessingResponse } from "../../../lib/src/envoy/services.js";
import { createLogger } from "../../../lib/src/logger.js";
import { decodeProcessingRequest } from "../incoming.js";
import { StreamProcessor, type Reply } from "../stream-processor.js";
import {
  encodeRequest,
  requestHeadersRequest,
  responseBodyRequest,
  responseHeadersRequest,
} from "../testing/envoy-messages.js";

// What an OpenAI SDK call looks like by the time Envoy hands it over.
const REQUEST_HEADERS: [string, string][] = [
  [":authority", "127.0.0.1:10000"],
  [":path", "/openai/v1/chat/completions"],
  [":method", "POST"],
  [":scheme", "https"],
  ["content-type", "application/json"],
  ["accept", "application/json"],
  ["user-agent", "OpenAI/Python 1.54.0"],
  ["x-stainless-lang", "python"],
  ["x-stainless-package-version", "1.54.0"],
  ["x-stainless-os", "Linux"],
  ["x-stainless-arch", "x64"],
  ["x-stainless-runtime", "CPython"],
  ["authorization", "Bearer sk-placeholder"],
  ["content-length", "231"],
  ["x-forwarded-proto", "https"],
  ["x-request-id", "5d1c9a52-7d0e-4f1b-9b53-0c2f1f0b6a11"],
  ["x-warden-decision-id", "mwq1-abcdefghijkl"],
];

const logger = createLogger("bench", "silent");
const requestBytes = encodeRequest(requestHeadersRequest(REQUEST_HEADERS));
const chunkBytes = encodeRequest(responseBodyRequest('data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'));
const decoded = extProc.ProcessingRequest.decode(requestBytes);

function measure(name: string, once: () => unknown, iterations: number): void {
  for (let i = 0; i < 20_000; i++) once(); // warm-up: let V8 optimise
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) once();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(JSON.stringify({ bench: "extproc", case: name, us_per_message: Math.round(ns) / 1000 }));
}

function encode(reply: Reply | Promise<Reply>): number {
  if (!reply || reply instanceof Promise || !isResponse(reply))
    throw new Error("expected a synchronous reply");
  return extProc.ProcessingResponse.encode(reply).finish().length;
}

function isResponse(reply: Reply): reply is IProcessingResponse {
  return reply !== null && !("detail" in reply);
}

const iterations = Number(process.env.ITERATIONS ?? 200_000);
measure(
  "request headers: process",
  () => new StreamProcessor({ providers: [], logger }).process(decoded),
  iterations,
);
measure(
  "request headers: decode + process + encode",
  () => encode(new StreamProcessor({ providers: [], logger }).process(decodeProcessingRequest(requestBytes))),
  iterations,
);
const streaming = new StreamProcessor({ providers: [], logger });
// Body chunks follow the response headers (phase-order.ts).
streaming.process(decodeProcessingRequest(encodeRequest(responseHeadersRequest([[":status", "200"]]))));
measure(
  "streamed body chunk: decode + process + encode",
  () => encode(streaming.process(decodeProcessingRequest(chunkBytes))),
  iterations,
);
