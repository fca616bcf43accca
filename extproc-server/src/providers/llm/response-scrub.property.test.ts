import type { IProcessingResponse } from "../../../../lib/src/envoy/services.js";
import { createLogger } from "../../../../lib/src/logger.js";
import type { LlmKeySource } from "../../credentials/key-source.js";
import { SecretScrubber } from "../../credentials/scrub.js";
import { StreamProcessor } from "../../stream-processor.js";
import { asEnvoyReads, readImmediate, wire } from "../../testing/envoy-messages.js";
import { LlmProvider } from "./provider.js";

/**
 * Property: whatever the content type, the content encoding Envoy reports and where the chunk
 * boundaries fall, no injected secret reaches the agent, and nothing else in the body changes. A
 * small seeded generator (fast-check is not a dependency): each case prints its seed when it fails.
 */
const INJECTED = "sk-vault-held-acme-openai-0123456789";
// Another tenant's key the scrubber knows (longer: the held tail depends on the longest secret).
const OTHER = "sk-ant-api03-another-tenant-key-abcdefghijklmnopqrstuvwxyz";
const SECRETS = [INJECTED, OTHER];
const REDACTED = Buffer.from("[REDACTED]");

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/vnd.api+json",
  "application/x-ndjson",
  "text/event-stream",
  "text/plain",
  "text/html",
  "application/octet-stream",
  "audio/mpeg",
  "image/png",
  "application/xml",
  null,
] as const;
const ENCODINGS = [null, "identity", "gzip", "br", "deflate"] as const;

/** mulberry32: small, seeded, good enough to spread cases. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Keys implements LlmKeySource {
  keyFor(): string {
    return INJECTED;
  }
  invalidate(): void {}
  scrubber(): SecretScrubber {
    return new SecretScrubber([OTHER]);
  }
}

function body(next: () => number, contentType: string | null): Buffer {
  const binary = contentType === null || /octet|audio|image/.test(contentType);
  const parts: Buffer[] = [];
  const pieces = 1 + Math.floor(next() * 12);
  for (let i = 0; i < pieces; i++) {
    const roll = next();
    if (roll < 0.3) {
      parts.push(Buffer.from(SECRETS[Math.floor(next() * SECRETS.length)]!));
    } else if (roll < 0.4) {
      // A near miss: a secret's prefix that does not complete (must pass through unchanged).
      const secret = SECRETS[Math.floor(next() * SECRETS.length)]!;
      parts.push(Buffer.from(secret.slice(0, 1 + Math.floor(next() * (secret.length - 1)))));
    } else if (binary) {
      parts.push(
        Buffer.from(Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256))),
      );
    } else if (contentType === "text/event-stream") {
      const eol = next() < 0.5 ? "\n" : "\r\n";
      parts.push(Buffer.from(`data: {"choices":[{"delta":{"content":"é ✓ ${i}"}}]}${eol}${eol}`));
    } else {
      parts.push(Buffer.from(`{"text":"Grüße ✓ ${"x".repeat(Math.floor(next() * 200))}"}\n`));
    }
  }
  return Buffer.concat(parts);
}

function cuts(next: () => number, length: number): number[] {
  const mode = next();
  if (mode < 0.1) return Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1); // byte by byte
  const count = mode < 0.3 ? 0 : Math.floor(next() * 8);
  const points = new Set<number>();
  for (let i = 0; i < count; i++) points.add(1 + Math.floor(next() * Math.max(1, length - 1)));
  return [...points].filter((point) => point < length).sort((a, b) => a - b);
}

function replaceAll(source: Buffer, secret: string): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = source.indexOf(secret); at !== -1; at = source.indexOf(secret, from)) {
    parts.push(source.subarray(from, at), REDACTED);
    from = at + secret.length;
  }
  parts.push(source.subarray(from));
  return Buffer.concat(parts);
}

async function deliver(contentType: string | null, encoding: string | null, upstream: Buffer, at: number[]) {
  const processor = new StreamProcessor({
    providers: [
      new LlmProvider({
        keys: new Keys(),
        usage: { record: () => undefined },
        defaultTenant: "acme",
        tokenCounter: () => Promise.resolve({ count: (text) => text.length }),
      }),
    ],
    logger: createLogger("property", "silent"),
  });
  await processor.process(wire.requestHeaders({ ":method": "POST", ":path": "/openai/v1/chat/completions" }));
  await processor.process(wire.requestBody('{"model":"gpt-4o","messages":[]}'));
  const headers: Record<string, string> = { ":status": "200" };
  if (contentType !== null) headers["content-type"] = contentType;
  if (encoding !== null) headers["content-encoding"] = encoding;
  const answer = (await processor.process(wire.responseHeaders(headers))) as IProcessingResponse;
  const refusal = readImmediate(answer);
  if (refusal) return { refused: refusal.status, delivered: null };
  const bounds = [0, ...at, upstream.length];
  const delivered: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const chunk = upstream.subarray(bounds[i], bounds[i + 1]);
    const last = i + 2 === bounds.length;
    const reply = asEnvoyReads(
      (await processor.process(wire.responseBody(chunk, last))) as IProcessingResponse,
    );
    const mutation = reply.responseBody?.response?.bodyMutation;
    delivered.push(mutation ? Buffer.from(mutation.body ?? new Uint8Array()) : chunk);
  }
  processor.end();
  return { refused: null, delivered: Buffer.concat(delivered) };
}

test("no injected secret reaches the agent: content types × encodings × chunk boundaries (600 seeded cases)", async () => {
  let scanned = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const next = random(seed);
    const contentType = CONTENT_TYPES[Math.floor(next() * CONTENT_TYPES.length)]!;
    const encoding = ENCODINGS[Math.floor(next() * ENCODINGS.length)]!;
    const upstream = body(next, contentType);
    const at = cuts(next, upstream.length);
    const { refused, delivered } = await deliver(contentType, encoding, upstream, at);
    const context = `seed ${seed}: ${contentType} / ${encoding ?? "no encoding"}, cuts ${at.length > 16 ? `${at.length} (byte by byte)` : JSON.stringify(at)}`;
    if (encoding !== null && encoding !== "identity") {
      // A body Warden cannot scan is refused, never passed on.
      expect({ context, refused }).toEqual({ context, refused: 502 });
      continue;
    }
    scanned++;
    const text = delivered!.toString("latin1");
    for (const secret of SECRETS)
      expect({ context, leaked: text.includes(secret) }).toEqual({ context, leaked: false });
    const expected = SECRETS.reduce((bytes, secret) => replaceAll(bytes, secret), upstream);
    expect({ context, same: delivered!.equals(expected) }).toEqual({ context, same: true });
  }
  expect(scanned).toBeGreaterThan(150);
});
