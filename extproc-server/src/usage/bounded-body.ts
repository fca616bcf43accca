/**
 * A JSON answer kept for reading its usage, with bounded memory: whole up to `wholeMax` bytes (then
 * parsed exactly), beyond that only its first `headMax` and last `tailMax` bytes, which is where
 * providers put the model (`model` first) and the usage (`usage`/`usageMetadata` last) even in a
 * 100 MiB embeddings batch.
 */
export const WHOLE_MAX_BYTES = 1024 * 1024;
const HEAD_MAX_BYTES = 16 * 1024;
const TAIL_MAX_BYTES = 64 * 1024;

export class BoundedBody {
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private head: Buffer | null = null;
  private tailParts: Uint8Array[] = [];
  private tailBytes = 0;
  private total = 0;

  constructor(
    private readonly wholeMax = WHOLE_MAX_BYTES,
    private readonly headMax = HEAD_MAX_BYTES,
    private readonly tailMax = TAIL_MAX_BYTES,
  ) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;
    if (this.head === null) {
      // Copy: the chunk is Envoy's message buffer, not ours to keep.
      this.parts.push(Uint8Array.from(chunk));
      this.partsBytes += chunk.length;
      if (this.partsBytes <= this.wholeMax) return;
      const all = Buffer.concat(this.parts, this.partsBytes);
      this.parts = [];
      this.head = Buffer.from(all.subarray(0, this.headMax));
      this.keepTail(all);
      return;
    }
    this.keepTail(chunk);
  }

  /** Bytes seen in all. */
  get totalBytes(): number {
    return this.total;
  }

  /** The whole body as text, or null when it was too large to keep. */
  wholeText(): string | null {
    return this.head === null ? Buffer.concat(this.parts, this.partsBytes).toString("utf8") : null;
  }

  /** The first and last bytes of a body too large to keep whole. */
  headText(): string {
    return this.head?.toString("utf8") ?? "";
  }

  tailText(): string {
    return Buffer.concat(this.tailParts, this.tailBytes).toString("utf8");
  }

  /** Keeps (a copy of) the last `tailMax` bytes seen; only what is kept is copied. */
  private keepTail(bytes: Uint8Array): void {
    const part = Uint8Array.from(
      bytes.length > this.tailMax ? bytes.subarray(bytes.length - this.tailMax) : bytes,
    );
    this.tailParts.push(part);
    this.tailBytes += part.length;
    while (this.tailParts.length > 1 && this.tailBytes - this.tailParts[0]!.length >= this.tailMax) {
      this.tailBytes -= this.tailParts.shift()!.length;
    }
  }
}

/**
 * The last `"name": { ... }` object in a JSON text fragment, parsed; undefined when absent or cut.
 * Strings are skipped while matching braces, so a `}` inside a value does not end the object.
 */
export function lastObjectField(text: string, name: string): unknown {
  const pattern = new RegExp(`"${name}"\\s*:\\s*\\{`, "g");
  let start = -1;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text))
    start = match.index + match[0].length - 1;
  if (start === -1) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b) {
      depth++;
    } else if (c === 0x7d && --depth === 0) {
      try {
        return JSON.parse(text.slice(start, i + 1)) as unknown;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The first (or last) `"name": "value"` string in a JSON text fragment. */
export function stringField(text: string, name: string, which: "first" | "last"): string | undefined {
  const pattern = new RegExp(`"${name}"\\s*:\\s*"((?:[^"\\\\]|\\\\.){1,512})"`, "g");
  let found: string | undefined;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    found = match[1];
    if (which === "first") break;
  }
  if (found === undefined) return undefined;
  try {
    return JSON.parse(`"${found}"`) as string;
  } catch {
    return undefined;
  }
}
