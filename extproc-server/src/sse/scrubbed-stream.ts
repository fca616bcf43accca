import type { SecretScrubber } from "../credentials/scrub.js";
import { SseDecoder, type SseEvent } from "./decoder.js";

const CR = 0x0d;
const LF = 0x0a;
/** An open event larger than this is released in parts (minus a tail that could start a split secret). */
export const DEFAULT_MAX_HELD_BYTES = 64 * 1024;

/** What the stream's reader says about one event: "drop" keeps it from the agent. */
export type SseEventVerdict = "drop" | undefined;
export type SseEventReader = (event: SseEvent) => SseEventVerdict;

/**
 * An SSE response body on its way to the agent. Every event is read once (for usage) and scrubbed
 * of known credentials before it leaves; the reader may drop an event the agent did not ask for
 * (OpenAI's usage-only chunk when Warden added `include_usage`). A secret can be split across
 * chunks, so the one event still open at the end of a chunk is held back until its blank line
 * arrives; complete events go on at once. An SSE client dispatches an event only at its blank line,
 * so holding the open part delays nothing the agent could act on, and no more than one event is
 * ever held.
 *
 * `chunk` returns the bytes to send in place of the chunk, or undefined to send it unchanged (the
 * common case: a chunk that ends on an event boundary, holds no secret and drops nothing costs no copy).
 */
export class ScrubbedSseStream {
  private readonly decoder = new SseDecoder();
  private held: Uint8Array | null = null;
  /** `held` is the tail of an oversized event whose start was already released: it cannot be dropped. */
  private partial = false;
  private endedOnCr = false;
  private droppedAtCr = false;
  private readonly holds: boolean;

  constructor(
    private readonly scrubber: SecretScrubber,
    private readonly onEvent: SseEventReader,
    private readonly maxHeldBytes = DEFAULT_MAX_HELD_BYTES,
    /** The reader may drop events: open events are held even with no secret to scrub. */
    mayDrop = false,
  ) {
    this.holds = mayDrop || !scrubber.isEmpty;
  }

  chunk(bytes: Uint8Array, endOfStream: boolean): Uint8Array | undefined {
    const held = this.held;
    const heldLength = held?.length ?? 0;
    let drops: number[] | null = null;
    let boundary = 0;
    // The LF of a CRLF split from its CR belongs to the event that ended at the CR: it goes (or is
    // dropped) with that one, not with the next.
    if (held === null && this.endedOnCr && bytes[0] === LF) {
      boundary = 1;
      if (this.droppedAtCr) drops = [0, 1];
    }
    this.endedOnCr = bytes.length > 0 && bytes[bytes.length - 1] === CR;
    this.droppedAtCr = false;
    const end = this.decoder.push(bytes, (event, at) => {
      const eventEnd = heldLength + at;
      if (this.onEvent(event) === "drop" && !(this.partial && boundary === 0)) {
        (drops ??= []).push(boundary, eventEnd);
        if (at === bytes.length) this.droppedAtCr = this.endedOnCr;
      }
      boundary = eventEnd;
    });
    if (!this.holds) return undefined;
    if (drops === null && held === null && (end === bytes.length || endOfStream)) {
      return this.scrubber.scrub(bytes);
    }
    let combined = concat(held, bytes);
    let releaseEnd = endOfStream ? combined.length : end === -1 ? 0 : heldLength + end;
    if (drops !== null) {
      const removed = without(combined, drops);
      releaseEnd -= combined.length - removed.length;
      combined = removed;
    }
    if (end !== -1) this.partial = false;
    this.held = releaseEnd < combined.length ? Uint8Array.from(combined.subarray(releaseEnd)) : null;
    let release = combined.subarray(0, releaseEnd);
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
    this.partial = true;
    return scrubbed.subarray(0, scrubbed.length - keep);
  }
}

function concat(first: Uint8Array | null, second: Uint8Array): Uint8Array {
  if (first === null || first.length === 0) return second;
  if (second.length === 0) return first;
  return Buffer.concat([first, second]);
}

/** `bytes` without the ranges [from, to) listed in `ranges` (ascending, not overlapping). */
function without(bytes: Uint8Array, ranges: readonly number[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let from = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    parts.push(bytes.subarray(from, ranges[i]));
    from = ranges[i + 1]!;
  }
  parts.push(bytes.subarray(from));
  return Buffer.concat(parts);
}
