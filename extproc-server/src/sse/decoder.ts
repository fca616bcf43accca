/** One server-sent event: its `event:` name ("message" when absent) and its `data:` lines joined by "\n". */
export interface SseEvent {
  readonly type: string;
  readonly data: string;
}

/** `end`: the offset in the chunk being pushed just past the blank line that ended the event. */
export type SseEventHandler = (event: SseEvent, end: number) => void;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const DATA = Buffer.from("data");
const EVENT = Buffer.from("event");
const DEFAULT_TYPE = "message";
/** An event larger than this is skipped (not dispatched); nothing an LLM sends comes close. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

/**
 * An incremental `text/event-stream` decoder (the WHATWG parsing rules for `event` and `data`; `id`
 * and `retry` are not needed here). Bytes arrive in arbitrary chunks, so a line or an event may be
 * split anywhere, even between the `\r` and `\n` of one line break. The decoder holds one event at
 * most: the unfinished line and the fields read so far; an event above `maxEventBytes` is dropped
 * rather than held.
 */
export class SseDecoder {
  private lineParts: Uint8Array[] = [];
  private lineBytes = 0;
  private type = "";
  private data: string[] = [];
  private eventBytes = 0;
  private oversized = false;
  /** The previous chunk ended with `\r`: a `\n` opening this one belongs to that line break. */
  private skipLf = false;
  /** …and that `\r` ended an event. */
  private crEndedEvent = false;

  constructor(private readonly maxEventBytes = DEFAULT_MAX_EVENT_BYTES) {}

  /**
   * Feeds one chunk and dispatches every event it completes. Returns the offset in `chunk` just past
   * the blank line that ended the last event completed in it, or -1 when no event ended in it: bytes
   * from there on belong to an event still open.
   */
  push(chunk: Uint8Array, onEvent: SseEventHandler): number {
    let lastEnd = -1;
    let start = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (chunk[0] === LF) {
        start = 1;
        if (this.crEndedEvent) lastEnd = 1;
      }
    }
    // Line breaks are found with indexOf (memchr), not a byte loop: this runs for every chunk of every stream.
    let nextCr = chunk.indexOf(CR, start);
    let i = start;
    while (i < chunk.length) {
      if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
      const nextLf = chunk.indexOf(LF, i);
      const end = nextCr === -1 ? nextLf : nextLf === -1 ? nextCr : Math.min(nextLf, nextCr);
      if (end === -1) break;
      const endedEvent = this.endLine(chunk, start, end);
      i = end + 1;
      if (chunk[end] === CR) {
        if (i === chunk.length) {
          this.skipLf = true;
          this.crEndedEvent = endedEvent;
        } else if (chunk[i] === LF) {
          i++;
        }
      }
      start = i;
      if (endedEvent) {
        lastEnd = start;
        this.dispatch(onEvent, start);
      }
    }
    if (start < chunk.length) this.keepLinePart(chunk.subarray(start));
    return lastEnd;
  }

  /** True while part of an event has been read but the event has not ended. */
  get midEvent(): boolean {
    return this.lineBytes > 0 || this.eventBytes > 0;
  }

  private keepLinePart(part: Uint8Array): void {
    this.lineBytes += part.length;
    if (this.oversized || this.eventBytes + this.lineBytes > this.maxEventBytes) {
      this.oversized = true;
      this.lineParts = [];
      return;
    }
    // Copy: Envoy's chunk buffers are not ours to keep.
    this.lineParts.push(Uint8Array.from(part));
  }

  /** Ends the line chunk[start..end) (plus any part held from earlier chunks); true when it ends an event (a blank line). */
  private endLine(chunk: Uint8Array, start: number, end: number): boolean {
    const heldBytes = this.lineBytes;
    const lineLength = heldBytes + (end - start);
    if (lineLength === 0) return true;
    this.eventBytes += lineLength;
    this.lineBytes = 0;
    if (this.oversized || this.eventBytes > this.maxEventBytes) {
      this.oversized = true;
      this.lineParts = [];
      return false;
    }
    const line =
      heldBytes === 0
        ? chunk.subarray(start, end)
        : Buffer.concat([...this.lineParts, chunk.subarray(start, end)], lineLength);
    this.lineParts = [];
    this.readField(line);
    return false;
  }

  private readField(line: Uint8Array): void {
    if (line[0] === COLON) return; // a comment
    const colon = line.indexOf(COLON);
    const nameEnd = colon === -1 ? line.length : colon;
    let valueStart = colon === -1 ? line.length : colon + 1;
    if (line[valueStart] === SPACE) valueStart++;
    if (sameBytes(line, nameEnd, DATA)) {
      this.data.push(utf8(line, valueStart));
    } else if (sameBytes(line, nameEnd, EVENT)) {
      this.type = utf8(line, valueStart);
    }
  }

  private dispatch(onEvent: SseEventHandler, end: number): void {
    const skipped = this.oversized;
    const data = this.data;
    const type = this.type || DEFAULT_TYPE;
    this.type = "";
    this.data = [];
    this.eventBytes = 0;
    this.oversized = false;
    // An event with no data line is not dispatched (WHATWG), nor is one we could not hold.
    if (skipped || data.length === 0) return;
    onEvent({ type, data: data.length === 1 ? data[0]! : data.join("\n") }, end);
  }
}

function sameBytes(line: Uint8Array, length: number, name: Buffer): boolean {
  if (length !== name.length) return false;
  for (let i = 0; i < length; i++) if (line[i] !== name[i]) return false;
  return true;
}

function utf8(line: Uint8Array, from: number): string {
  return Buffer.from(line.buffer, line.byteOffset + from, line.length - from).toString("utf8");
}
