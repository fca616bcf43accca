import { gunzipSync, gzipSync } from "node:zlib";
import { PolicyLoadError } from "./errors.js";

/**
 * OPA bundle archives (.tar.gz). Reading: regular files only, names without the leading "/" OPA
 * writes; anything unexpected (links, devices, ".." paths, duplicates, bad header checksums)
 * refuses the bundle, and nothing is ever written to disk. Writing: the same layout `opa build`
 * writes, with fixed mode/owner/mtime so the same files always give the same bytes.
 */
export const DEFAULT_MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

const BLOCK = 512;
const NAME_FIELD = 100;

function bad(message: string): PolicyLoadError {
  return new PolicyLoadError("bundle_malformed", message);
}

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString("utf8");
}

function octal(header: Buffer, start: number, length: number, what: string): number {
  const text = field(header, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw bad(`tar header has an invalid ${what}`);
  return parseInt(text, 8);
}

function checksumMatches(header: Buffer): boolean {
  const recorded = octal(header, 148, 8, "checksum");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === recorded;
}

/** PAX extended header records: "<length> <key>=<value>\n". Only `path` matters here. */
function paxPath(data: Buffer): string | undefined {
  let offset = 0;
  let path: string | undefined;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number(data.subarray(offset, space).toString("ascii"));
    if (!Number.isInteger(length) || length <= 0) throw bad("tar PAX header is malformed");
    const record = data.subarray(space + 1, offset + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0 && record.slice(0, eq) === "path") path = record.slice(eq + 1);
    offset += length;
  }
  return path;
}

function normaliseName(name: string): string {
  const trimmed = name.replace(/^(\.?\/)+/, "");
  const segments = trimmed.split("/");
  if (trimmed === "" || segments.some((s) => s === ".." || s === "")) {
    throw bad(`tar entry has an unsafe path "${name}"`);
  }
  return trimmed;
}

export function readTarGz(bytes: Buffer, maxBytes = DEFAULT_MAX_BUNDLE_BYTES): Map<string, Buffer> {
  let tar: Buffer;
  try {
    tar = gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (error) {
    const tooBig =
      error instanceof RangeError || (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
    throw bad(
      tooBig ? `bundle is larger than ${maxBytes} bytes uncompressed` : "bundle is not gzip-compressed",
    );
  }

  const files = new Map<string, Buffer>();
  let offset = 0;
  let nextName: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    if (!checksumMatches(header)) throw bad("tar header checksum mismatch");
    const size = octal(header, 124, 12, "size");
    const type = String.fromCharCode(header[156]!);
    const dataStart = offset + BLOCK;
    if (dataStart + size > tar.length) throw bad("tar entry is truncated");
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    const ustar = field(header, 257, 6) === "ustar";
    const prefix = ustar ? field(header, 345, 155) : "";
    const headerName = prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100);

    switch (type) {
      case "x":
        nextName = paxPath(data) ?? nextName;
        continue;
      case "L":
        nextName = data.toString("utf8").replace(/\0+$/, "");
        continue;
      case "g":
        continue;
      case "5":
        nextName = undefined;
        continue;
      case "0":
      case "\0":
      case "7": {
        const name = normaliseName(nextName ?? headerName);
        nextName = undefined;
        if (files.has(name)) throw bad(`tar contains "${name}" twice`);
        files.set(name, Buffer.from(data));
        continue;
      }
      default:
        throw bad(
          `tar entry "${headerName}" has unsupported type "${type}" (only regular files are allowed)`,
        );
    }
  }
  if (files.size === 0) throw bad("bundle contains no files");
  return files;
}

function octalField(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function entryHeader(name: string, size: number, type: "0" | "x"): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, NAME_FIELD, "utf8");
  block.write(octalField(0o644, 8), 100, "ascii");
  block.write(octalField(0, 8), 108, "ascii");
  block.write(octalField(0, 8), 116, "ascii");
  block.write(octalField(size, 12), 124, "ascii");
  block.write(octalField(0, 12), 136, "ascii");
  block.write("        ", 148, "ascii");
  block.write(type, 156, "ascii");
  block.write("ustar\0", 257, "ascii");
  block.write("00", 263, "ascii");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return block;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** One PAX record, "<length> path=<name>\n", where <length> counts its own digits too. */
function paxPathRecord(name: string): Buffer {
  const body = ` path=${name}\n`;
  const bodyBytes = Buffer.byteLength(body, "utf8");
  let length = bodyBytes + 1;
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
  return Buffer.from(`${length}${body}`, "utf8");
}

/** Names longer than the 100-byte ustar field get a PAX `path` record (readTarGz and OPA read it). */
function entry(name: string, data: Buffer): Buffer[] {
  const path = `/${name}`;
  const parts: Buffer[] = [];
  if (Buffer.byteLength(path, "utf8") > NAME_FIELD) {
    const record = paxPathRecord(path);
    parts.push(entryHeader("././@PaxHeader", record.length, "x"), record, padding(record.length));
  }
  parts.push(entryHeader(path.slice(0, NAME_FIELD), data.length, "0"), data, padding(data.length));
  return parts;
}

/** `files` maps names without the leading "/" to contents, in archive order. */
export function writeTarGz(files: Iterable<readonly [string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of files) parts.push(...entry(name, data));
  parts.push(Buffer.alloc(2 * BLOCK));
  return gzipSync(Buffer.concat(parts));
}
