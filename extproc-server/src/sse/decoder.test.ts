import { SseDecoder, type SseEvent } from "./decoder.js";

// Anthropic's stream, as the Messages API sends it (abridged), with `event:` lines.
const ANTHROPIC_STREAM =
  "event: message_start\n" +
  'data: {"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":25,"output_tokens":1}}}\n\n' +
  'event: ping\ndata: {"type": "ping"}\n\n' +
  "event: content_block_delta\n" +
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Héllo ✓"}}\n\n' +
  "event: message_delta\n" +
  'data: {"type":"message_delta","usage":{"output_tokens":15}}\n\n' +
  'event: message_stop\ndata: {"type":"message_stop"}\n\n';

function decodeAll(chunks: (string | Uint8Array)[]): { events: SseEvent[]; ends: number[] } {
  const decoder = new SseDecoder();
  const events: SseEvent[] = [];
  const ends = chunks.map((chunk) =>
    decoder.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk, (event) => events.push(event)),
  );
  return { events, ends };
}

const whole = decodeAll([ANTHROPIC_STREAM]).events;

test("a whole stream decodes into its events with their names and data", () => {
  expect(whole.map((event) => event.type)).toEqual([
    "message_start",
    "ping",
    "content_block_delta",
    "message_delta",
    "message_stop",
  ]);
  expect(JSON.parse(whole[2]!.data)).toMatchObject({ delta: { text: "Héllo ✓" } });
});

test("split at every byte position, the stream gives the same events (multi-byte characters too)", () => {
  const bytes = Buffer.from(ANTHROPIC_STREAM);
  for (let cut = 1; cut < bytes.length; cut++) {
    expect(decodeAll([bytes.subarray(0, cut), bytes.subarray(cut)]).events).toEqual(whole);
  }
});

test("one byte per chunk gives the same events", () => {
  const bytes = Buffer.from(ANTHROPIC_STREAM);
  const chunks = Array.from(bytes, (byte) => Uint8Array.of(byte));
  expect(decodeAll(chunks).events).toEqual(whole);
});

test("CRLF and CR line breaks work, also when a CRLF is split between chunks", () => {
  const crlf = ANTHROPIC_STREAM.replace(/\n/g, "\r\n");
  const bytes = Buffer.from(crlf);
  for (let cut = 1; cut < bytes.length; cut++) {
    expect(decodeAll([bytes.subarray(0, cut), bytes.subarray(cut)]).events).toEqual(whole);
  }
  expect(decodeAll([ANTHROPIC_STREAM.replace(/\n/g, "\r")]).events).toEqual(whole);
});

test("the offset returned is where the last completed event ends; -1 while an event is open", () => {
  const first = 'data: {"a":1}\n\ndata: {"b"';
  const { ends, events } = decodeAll([first, ":2}\n", "\n"]);
  expect(ends).toEqual(['data: {"a":1}\n\n'.length, -1, 1]);
  expect(events.map((event) => event.data)).toEqual(['{"a":1}', '{"b":2}']);
});

test("a CRLF blank line split after its CR ends the event at the CR; the LF after it is counted too", () => {
  const { ends, events } = decodeAll(["data: x\r\n\r", "\ndata: y"]);
  expect(ends).toEqual([10, 1]);
  expect(events).toEqual([{ type: "message", data: "x" }]);
});

test("comments, unknown fields and events without data are not dispatched; data lines join with \\n", () => {
  const { events } = decodeAll([": keep-alive\n\nretry: 10\nid: 4\n\ndata: one\ndata:two\n\nevent: x\n\n"]);
  expect(events).toEqual([{ type: "message", data: "one\ntwo" }]);
});

test("an incomplete event at the end is not dispatched", () => {
  expect(decodeAll(['data: {"cut":'])).toEqual({ events: [], ends: [-1] });
});

test("an oversized event is skipped without being held, and the next one decodes", () => {
  const decoder = new SseDecoder(64);
  const events: SseEvent[] = [];
  const big = `data: ${"x".repeat(200)}`;
  decoder.push(Buffer.from(big.slice(0, 100)), (event) => events.push(event));
  decoder.push(Buffer.from(big.slice(100)), (event) => events.push(event));
  decoder.push(Buffer.from("\n\ndata: small\n\n"), (event) => events.push(event));
  expect(events).toEqual([{ type: "message", data: "small" }]);
});
