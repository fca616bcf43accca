import { ListFilter } from "../../../lib/src/mcp/list-filter.js";

/**
 * A `text/event-stream` answer to an MCP list request (Streamable HTTP may answer a POST with an
 * SSE stream carrying the JSON-RPC response as one event's data, possibly after notifications).
 * Every event's data goes through its own ListFilter as it arrives, so a notification passes
 * unchanged and at once, and the response event is filtered item by item: memory stays bounded by
 * the largest list item, never by the event (a 20 MB `data:` line streams through).
 *
 * The data of one event is written as one `data:` line: an event's data lines are joined with "\n"
 * (WHATWG), which inside JSON is whitespace, so joining them with a space instead gives the reader
 * the same JSON. Other fields of an event (`event:`, `id:`, `retry:`, comments) pass unchanged;
 * one that comes after the data began is written after the data line (at most MAX_HELD_BYTES).
 */
const MAX_HELD_BYTES = 4096;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const SPACE = 0x20;
const DATA = "data";
const NEWLINE = Buffer.from("\n");
const DATA_OPEN = Buffer.from("data: ");
const JOIN = Buffer.from(" ");

type LineMode = "field" | "data" | "other";

export class SseListFilter {
  private mode: LineMode = "field";
  private field: number[] = [];
  /** The next byte of a data line is the optional space after `data:`. */
  private maybeSpace = false;
  private skipLf = false;
  private filter: ListFilter | null = null;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  /** The data line being written holds this event's data: other fields wait. */
  private dataOpen = false;
  private otherLine: number[] | null = null;

  constructor(private readonly newFilter: () => ListFilter) {}

  push(chunk: Uint8Array, endOfStream: boolean): Uint8Array {
    const out: Uint8Array[] = [];
    let i = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (chunk[0] === LF) i = 1;
    }
    while (i < chunk.length) {
      const byte = chunk[i]!;
      if (byte === CR || byte === LF) {
        this.endLine(out);
        if (byte === CR) {
          if (i + 1 === chunk.length) this.skipLf = true;
          else if (chunk[i + 1] === LF) i++;
        }
        i++;
        continue;
      }
      if (this.mode === "data") {
        // The rest of the line up to its break streams through the event's filter.
        let end = i;
        while (end < chunk.length && chunk[end] !== CR && chunk[end] !== LF) end++;
        let from = i;
        if (this.maybeSpace) {
          this.maybeSpace = false;
          if (chunk[from] === SPACE) from++;
        }
        if (end > from) out.push(this.filter!.push(chunk.subarray(from, end)));
        i = end;
        continue;
      }
      if (this.mode === "other" && this.otherLine === null) {
        // A field before the data (an `event:`, an `id:`, a comment) passes as it is.
        let end = i;
        while (end < chunk.length && chunk[end] !== CR && chunk[end] !== LF) end++;
        out.push(chunk.subarray(i, end));
        i = end;
        continue;
      }
      if (this.mode === "other") {
        this.otherByte(byte, out);
        i++;
        continue;
      }
      this.fieldByte(byte, out);
      i++;
    }
    if (endOfStream) {
      if (this.mode !== "field" || this.field.length > 0) this.endLine(out);
      if (this.dataOpen) out.push(this.filter!.end());
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private fieldByte(byte: number, out: Uint8Array[]): void {
    if (byte === COLON && this.fieldIs(DATA)) {
      this.field = [];
      this.startData(out);
      this.maybeSpace = true;
      return;
    }
    this.field.push(byte);
    if (this.field.length > DATA.length || byte !== DATA.charCodeAt(this.field.length - 1)) {
      // Not a data line: what was read of it goes the way of the rest of the line.
      const read = this.field;
      this.field = [];
      this.mode = "other";
      this.otherLine = this.dataOpen ? [] : null;
      for (const b of read) this.otherByte(b, out);
    }
  }

  private fieldIs(name: string): boolean {
    return this.field.length === name.length && this.field.every((b, i) => b === name.charCodeAt(i));
  }

  private startData(out: Uint8Array[]): void {
    this.mode = "data";
    if (this.dataOpen) {
      out.push(this.filter!.push(JOIN));
      return;
    }
    this.dataOpen = true;
    this.filter = this.newFilter();
    out.push(DATA_OPEN);
  }

  private otherByte(byte: number, out: Uint8Array[]): void {
    if (this.otherLine === null) out.push(Uint8Array.of(byte));
    else if (this.heldBytes + this.otherLine.length < MAX_HELD_BYTES) this.otherLine.push(byte);
  }

  private endLine(out: Uint8Array[]): void {
    const mode = this.mode;
    this.mode = "field";
    this.maybeSpace = false;
    if (mode === "field" && this.field.length === 0) return this.endEvent(out);
    if (mode === "field") {
      // `data` alone on its line: an empty data value.
      if (this.fieldIs(DATA)) {
        this.field = [];
        this.startData(out);
        this.mode = "field";
        return;
      }
      const read = this.field;
      this.field = [];
      this.otherLine = this.dataOpen ? [] : null;
      for (const b of read) this.otherByte(b, out);
      return this.endOtherLine(out);
    }
    if (mode === "data") return;
    this.endOtherLine(out);
  }

  private endOtherLine(out: Uint8Array[]): void {
    if (this.otherLine === null) out.push(NEWLINE);
    else {
      this.otherLine.push(LF);
      this.held.push(Uint8Array.from(this.otherLine));
      this.heldBytes += this.otherLine.length;
    }
    this.otherLine = null;
  }

  private endEvent(out: Uint8Array[]): void {
    if (this.dataOpen) {
      out.push(this.filter!.end(), NEWLINE, ...this.held);
      this.held = [];
      this.heldBytes = 0;
      this.dataOpen = false;
      this.filter = null;
    }
    out.push(NEWLINE);
  }
}
