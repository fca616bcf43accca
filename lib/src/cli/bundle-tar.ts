import { gzipSync } from "node:zlib";

/**
 * Writes an OPA bundle archive: regular files only, names with the leading "/" `opa build` writes,
 * fixed mode/owner/mtime so the same files always give the same bytes. Names longer than the
 * 100-byte ustar field get a PAX `path` record (authz-server's tar reader and OPA both read it).
 */
const BLOCK = 512;
const NAME_FIELD = 100;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(name: string, size: number, type: "0" | "x"): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, NAME_FIELD, "utf8");
  block.write(octal(0o644, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii");
  block.write(octal(0, 8), 116, "ascii");
  block.write(octal(size, 12), 124, "ascii");
  block.write(octal(0, 12), 136, "ascii");
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

function entry(name: string, data: Buffer): Buffer[] {
  const path = `/${name}`;
  const parts: Buffer[] = [];
  if (Buffer.byteLength(path, "utf8") > NAME_FIELD) {
    const record = paxPathRecord(path);
    parts.push(header("././@PaxHeader", record.length, "x"), record, padding(record.length));
  }
  parts.push(header(path.slice(0, NAME_FIELD), data.length, "0"), data, padding(data.length));
  return parts;
}

/** `files` maps names without the leading "/" to contents, in archive order. */
export function writeBundleTarGz(files: Iterable<readonly [string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of files) parts.push(...entry(name, data));
  parts.push(Buffer.alloc(2 * BLOCK));
  return gzipSync(Buffer.concat(parts));
}
