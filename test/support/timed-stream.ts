import { performance } from "node:perf_hooks";
import type { LlmStub } from "../stubs/llm-stub-server.js";
import { readSseEvents } from "./sse-reader.js";

export interface StreamTiming {
  /** Per event: received (its last chunk, performance.now()) minus written by the stub. */
  eventDelaysMs: number[];
  /** Request start to the first complete event. */
  firstEventMs: number;
}

/**
 * One streaming chat call to the OpenAI stub as an agent makes it (through `baseUrl`, with `key`),
 * every event timed against the stub's write of it. Stub and client share this process's clock.
 */
export async function timedStream(
  stub: LlmStub,
  baseUrl: string,
  key: string,
  events: number,
  intervalMs: number,
): Promise<StreamTiming> {
  const started = performance.now();
  const before = stub.streams.length;
  const response = await fetch(`${baseUrl}/openai/v1/chat/completions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      "x-stub-events": String(events),
      "x-stub-interval-ms": String(intervalMs),
    },
    body: JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] }),
  });
  if (response.status !== 200) {
    throw new Error(`stream through ${baseUrl}: ${response.status} ${await response.text()}`);
  }
  const receivedAt: number[] = [];
  await readSseEvents(response, (_event, at) => void receivedAt.push(at));
  const sent = stub.streams[before]?.sentAt ?? [];
  return {
    // The events both paths carry ([DONE] and any usage chunk are not timed by the stub).
    eventDelaysMs: receivedAt
      .slice(0, Math.min(sent.length, receivedAt.length))
      .map((at, i) => at - sent[i]!),
    firstEventMs: (receivedAt[0] ?? Number.NaN) - started,
  };
}
