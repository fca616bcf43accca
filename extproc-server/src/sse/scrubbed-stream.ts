import type { SecretScrubber } from "../credentials/scrub.js";
import { SseDecoder, type SseEventHandler } from "./decoder.js";

const EMPTY = new Uint8Array(0);
/** An open event larger than this is released in parts (minus a tail that could start a split secret). */
export const DEFAULT_MAX_HELD_BYTES = 64 * 1024;

/**
 * An SSE response body on its way to the agent. Every event is read once (for usage) and scrubbed
 * of known credentials before it leaves. A secret can be split across chunks, so the one event still
 * open at the end of a chunk is held back until its blank line arrives; complete events go on at
 * once. An SSE client dispatches an event only at its blank line, so holding the open part delays
 * nothing the agent could act on, and no more than one event is ever held.
 *
 * `chunk` returns the bytes to send in place of the chunk, or undefined to send it unchanged (the
 * common case: a chunk that ends on an event boundary and holds no secret costs no copy).
 */
export class ScrubbedSseStream {
  private readonly decoder = new SseDecoder();
  private held: Uint8Array | null = null;

  constructor(
    private readonly scrubber: SecretScrubber,
    private readonly onEvent: SseEventHandler,
    private readonly maxHeldBytes = DEFAULT_MAX_HELD_BYTES,
  ) {}

  chunk(bytes: Uint8Array, endOfStream: boolean): Uint8Array | undefined {
    const end = this.decoder.push(bytes, this.onEvent);
    if (this.scrubber.isEmpty) return undefined;
    const held = this.held;
    if (held === null && (end === bytes.length || endOfStream)) {
      return this.scrubber.scrub(bytes);
    }
    if (endOfStream) {
      this.held = null;
      const rest = concat(held, bytes);
      return this.scrubber.scrub(rest) ?? rest;
    }
    let release: Uint8Array;
    if (end === -1) {
      release = EMPTY;
      this.held = held === null ? Uint8Array.from(bytes) : concat(held, bytes);
    } else {
      release = concat(held, bytes.subarray(0, end));
      this.held = end < bytes.length ? Uint8Array.from(bytes.subarray(end)) : null;
    }
    if (release.length > 0) release = this.scrubber.scrub(release) ?? release;
    if (this.held && this.held.length > this.maxHeldBytes)
      release = concat(release, this.releaseOversized(this.held));
    return release;
  }

  /** Bytes held back right now (at most one open event, or a secret's length for an oversized one). */
  get heldBytes(): number {
    return this.held?.length ?? 0;
  }

  private releaseOversized(held: Uint8Array): Uint8Array {
    // Scrub before splitting, so a secret across the split point is caught; keep a tail shorter than
    // the longest secret, so one that starts there is caught with the next chunk.
    const scrubbed = this.scrubber.scrub(held) ?? held;
    const keep = Math.min(scrubbed.length, Math.max(this.scrubber.longest - 1, 0));
    this.held = keep > 0 ? Uint8Array.from(scrubbed.subarray(scrubbed.length - keep)) : null;
    return scrubbed.subarray(0, scrubbed.length - keep);
  }
}

function concat(first: Uint8Array | null, second: Uint8Array): Uint8Array {
  if (first === null || first.length === 0) return second;
  if (second.length === 0) return first;
  return Buffer.concat([first, second]);
}
