import { SecretScrubber } from "../credentials/scrub.js";
import type { SseEvent } from "./decoder.js";
import { ScrubbedSseStream } from "./scrubbed-stream.js";

const KEY = "sk-live-0123456789abcdef";

function run(chunks: string[], maxHeld?: number) {
  const events: SseEvent[] = [];
  const stream = new ScrubbedSseStream(
    new SecretScrubber([KEY]),
    (event) => void events.push(event),
    maxHeld,
  );
  const sent: (string | null)[] = [];
  const held: number[] = [];
  chunks.forEach((chunk, index) => {
    const bytes = Buffer.from(chunk);
    const out = stream.chunk(bytes, index === chunks.length - 1);
    sent.push(out === undefined ? null : Buffer.from(out).toString("utf8"));
    held.push(stream.heldBytes);
  });
  const delivered = sent.map((out, index) => out ?? chunks[index]).join("");
  return { events, sent, delivered, held };
}

test("chunks that end on event boundaries and hold no secret pass unchanged (no copy)", () => {
  const { sent, events } = run(['data: {"a":1}\n\n', 'data: {"b":2}\n\ndata: [DONE]\n\n']);
  expect(sent).toEqual([null, null]);
  expect(events.map((event) => event.data)).toEqual(['{"a":1}', '{"b":2}', "[DONE]"]);
});

test("a key split across chunks never reaches the agent, at any split point", () => {
  const stream = `data: {"x":"a"}\n\ndata: {"leak":"${KEY}"}\n\ndata: [DONE]\n\n`;
  for (let cut = 1; cut < stream.length; cut++) {
    const { delivered, sent } = run([stream.slice(0, cut), stream.slice(cut)]);
    expect(delivered).not.toContain(KEY);
    expect(delivered).toBe(stream.replace(KEY, "[REDACTED]"));
    for (const out of sent) expect(out ?? "").not.toContain(KEY.slice(0, 12));
  }
});

test("complete events go on at once; only the open event is held", () => {
  const { sent, held } = run(['data: {"a":1}\n\ndata: {"b"', ":2}\n\n", "data: [DONE]\n\n"]);
  expect(sent[0]).toBe('data: {"a":1}\n\n');
  expect(held[0]).toBe('data: {"b"'.length);
  expect(sent[1]).toBe('data: {"b":2}\n\n');
  expect(held[1]).toBe(0);
});

test("the held part of an unfinished stream is released at end of stream", () => {
  const { delivered } = run(['data: {"a":1}\n\ndata: {"cut', ""]);
  expect(delivered).toBe('data: {"a":1}\n\ndata: {"cut');
});

test("an oversized event is released in parts, holding only less than a key's length", () => {
  const big = `data: ${"y".repeat(300)}${KEY}${"z".repeat(300)}\n\n`;
  const chunks = big.match(/[\s\S]{1,50}/g)!;
  const { delivered, held } = run([...chunks, ""], 100);
  expect(delivered).toBe(big.replace(KEY, "[REDACTED]"));
  expect(Math.max(...held)).toBeLessThanOrEqual(100 + 50);
});

test("an event the reader drops never reaches the agent, wherever the chunks split", () => {
  const stream = 'data: {"a":1}\r\n\r\ndata: {"choices":[],"usage":{}}\r\n\r\ndata: [DONE]\r\n\r\n';
  for (let cut = 1; cut < stream.length; cut++) {
    const scrubbed = new ScrubbedSseStream(
      new SecretScrubber([KEY]),
      (event) => (event.data.includes('"choices":[]') ? "drop" : undefined),
      undefined,
      true,
    );
    const parts = [stream.slice(0, cut), stream.slice(cut)];
    const delivered = parts
      .map((part, index) => {
        const bytes = Buffer.from(part);
        const out = scrubbed.chunk(bytes, index === 1);
        return Buffer.from(out ?? bytes).toString("utf8");
      })
      .join("");
    expect(delivered).toBe('data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n');
  }
});

test("with nothing to scrub and nothing to drop, chunks pass unchanged", () => {
  const stream = new ScrubbedSseStream(new SecretScrubber([]), () => undefined);
  expect(stream.chunk(Buffer.from('data: {"b"'), false)).toBeUndefined();
  expect(stream.heldBytes).toBe(0);
});
