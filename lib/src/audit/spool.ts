import { mkdir, open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import type { AuditEntry } from "./event.js";

/**
 * A durable local queue of audit entries for when PostgreSQL is unreachable: NDJSON lines appended
 * and fsync'd before an append is acknowledged, plus a small offset file marking how far delivery
 * got. Delivery is at-least-once from here (a crash between commit and offset write redelivers);
 * the database skips event ids it already has, so each event is stored exactly once.
 */
const READ_CHUNK = 1 << 20;
const OFFSET_WIDTH = 20;

export interface SpoolBatch {
  entries: AuditEntry[];
  /** Byte offset just after the last entry of the batch; pass to `acknowledge` once delivered. */
  endOffset: number;
}

export class AuditSpool {
  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    private readonly offsetFile: FileHandle,
    private size: number,
    private deliveredOffset: number,
    private pendingLines: number,
  ) {}

  static async open(path: string): Promise<AuditSpool> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const file = await open(path, "a+", 0o600);
    const offsetFile = await open(`${path}.offset`, "a+", 0o600);
    let size = (await file.stat()).size;
    const completeSize = await lastCompleteLineEnd(file, size);
    if (completeSize < size) {
      // A crash mid-append leaves a torn last line that was never acknowledged: drop it.
      await file.truncate(completeSize);
      await file.sync();
      size = completeSize;
    }
    const recorded = Number((await offsetFile.readFile("utf8")).trim() || "0");
    const delivered = Number.isSafeInteger(recorded) && recorded >= 0 && recorded <= size ? recorded : 0;
    const spool = new AuditSpool(path, file, offsetFile, size, delivered, 0);
    spool.pendingLines = await spool.countLinesFrom(delivered);
    return spool;
  }

  /** Entries waiting for delivery. */
  get pending(): number {
    return this.pendingLines;
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const data = Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.file.write(data, written, data.length - written);
      written += bytesWritten;
    }
    await this.file.sync();
    this.size += data.length;
    this.pendingLines += entries.length;
  }

  /** The oldest undelivered entries, at most `max`. */
  async peek(max: number): Promise<SpoolBatch> {
    const entries: AuditEntry[] = [];
    let endOffset = this.deliveredOffset;
    let position = this.deliveredOffset;
    let carry = Buffer.alloc(0);
    while (entries.length < max && position < this.size) {
      const length = Math.min(READ_CHUNK, this.size - position);
      const chunk = Buffer.alloc(length);
      const { bytesRead } = await this.file.read(chunk, 0, length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      let data = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
      for (
        let newline = data.indexOf(0x0a);
        newline !== -1 && entries.length < max;
        newline = data.indexOf(0x0a)
      ) {
        entries.push(JSON.parse(data.subarray(0, newline).toString("utf8")) as AuditEntry);
        endOffset += newline + 1;
        data = data.subarray(newline + 1);
      }
      carry = data;
    }
    return { entries, endOffset };
  }

  /** Marks entries up to `endOffset` delivered; empties the files once everything is delivered. */
  async acknowledge(endOffset: number, count: number): Promise<void> {
    this.deliveredOffset = endOffset;
    this.pendingLines = Math.max(0, this.pendingLines - count);
    if (this.deliveredOffset >= this.size) {
      // Order matters for crash safety: an offset beyond the file's end is read back as 0.
      await this.file.truncate(0);
      await this.file.sync();
      this.size = 0;
      this.deliveredOffset = 0;
      this.pendingLines = 0;
    }
    await this.writeOffset(this.deliveredOffset);
  }

  async close(): Promise<void> {
    await this.file.close();
    await this.offsetFile.close();
  }

  private async writeOffset(offset: number): Promise<void> {
    await this.offsetFile.truncate(0);
    await this.offsetFile.write(String(offset).padStart(OFFSET_WIDTH, "0"), 0);
    await this.offsetFile.sync();
  }

  private async countLinesFrom(start: number): Promise<number> {
    let lines = 0;
    const buffer = Buffer.alloc(READ_CHUNK);
    for (let position = start; position < this.size;) {
      const { bytesRead } = await this.file.read(
        buffer,
        0,
        Math.min(READ_CHUNK, this.size - position),
        position,
      );
      if (bytesRead === 0) break;
      for (let i = 0; i < bytesRead; i++) if (buffer[i] === 0x0a) lines += 1;
      position += bytesRead;
    }
    return lines;
  }
}

async function lastCompleteLineEnd(file: FileHandle, size: number): Promise<number> {
  let end = size;
  const buffer = Buffer.alloc(4096);
  while (end > 0) {
    const start = Math.max(0, end - buffer.length);
    const { bytesRead } = await file.read(buffer, 0, end - start, start);
    const newline = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline !== -1) return start + newline + 1;
    end = start;
  }
  return 0;
}
