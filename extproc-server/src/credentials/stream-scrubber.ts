import type { SecretScrubber } from "./scrub.js";

const EMPTY = new Uint8Array(0);

/**
 * Scrubs a body that passes chunk by chunk (STREAMED), whatever its content type, with bounded
 * memory: at most (longest secret − 1) bytes are held between chunks, and only when the chunk ends
 * with bytes that could start a secret. A secret split across chunks is caught because the held
 * tail is scanned again with the next chunk; a chunk that neither holds a secret nor ends with the
 * start of one goes on unchanged (no copy).
 */
export class StreamScrubber {
  private held: Uint8Array | null = null;

  constructor(private readonly scrubber: SecretScrubber) {}

  /** The bytes to send in place of `chunk`, or undefined to send it unchanged. */
  chunk(chunk: Uint8Array, endOfStream: boolean): Uint8Array | undefined {
    if (this.scrubber.isEmpty) return undefined;
    const held = this.held;
    this.held = null;
    const bytes = held === null ? chunk : concat(held, chunk);
    const scrubbed = this.scrubber.scrub(bytes);
    const out = scrubbed ?? bytes;
    const keep = endOfStream ? 0 : this.scrubber.partialSecretAtEnd(out);
    if (keep === 0) return out === chunk ? undefined : out;
    this.held = Uint8Array.from(out.subarray(out.length - keep));
    return out.length === keep ? EMPTY : out.subarray(0, out.length - keep);
  }

  /** Bytes held back right now (less than the longest secret). */
  get heldBytes(): number {
    return this.held?.length ?? 0;
  }
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  if (first.length === 0) return second;
  if (second.length === 0) return first;
  return Buffer.concat([first, second]);
}
