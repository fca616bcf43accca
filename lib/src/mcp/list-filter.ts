import type { McpItemKind } from "./protocol.js";
import { isVisible, type McpVisibility } from "./visibility.js";

/**
 * Filters MCP list answers (`tools/list`, `prompts/list`, `resources/list`) to what the caller may
 * use, as a stream of bytes: a JSON-RPC response (or a batch of them) goes in chunk by chunk, and
 * out comes the same JSON with every item of `result.tools` / `result.prompts` / `result.resources`
 * the visibility does not admit left out. Everything else (ids, `nextCursor`, `_meta`, whitespace)
 * passes byte for byte. Memory is bounded: only the list item being read is held (at most
 * `maxItemBytes`; a larger one is dropped, as is any item that is not an object with a string name
 * or URI), so a 20 MB list costs no more than its largest item.
 *
 * The scanner follows JSON's grammar only as far as it needs: strings (with escapes), nesting and
 * object keys. Keys are compared decoded (`"t\u006fols"` is `tools`), so a server cannot hide a
 * list from the filter with an escape a client would decode.
 */
export const DEFAULT_MAX_ITEM_BYTES = 1024 * 1024;

/** The key each item is known by in its kind's rules. */
const ITEM_KEY: Readonly<Record<McpItemKind, "name" | "uri">> = {
  tools: "name",
  prompts: "name",
  resources: "uri",
};
const LIST_KEYS: ReadonlySet<string> = new Set(["tools", "prompts", "resources"]);
const MAX_KEY_BYTES = 256;

type Role = "batch" | "response" | "result" | "list" | "other";

interface Frame {
  readonly container: "object" | "array";
  readonly role: Role;
  readonly kind: McpItemKind | null;
  expectingKey: boolean;
  key: string | null;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const COMMA_BYTES = Buffer.from(",");

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

export class ListFilter {
  private readonly stack: Frame[] = [];
  private inString = false;
  private escaped = false;
  /** The key string being read (raw bytes), when the string is an object key we may care about. */
  private keyParts: number[] | null = null;
  private keyTooLong = false;
  /** The list item being read: its bytes so far, or null between items. */
  private item: Uint8Array[] | null = null;
  private itemBytes = 0;
  private itemTooLarge = false;
  /** Stack depth of the list frame the current item belongs to. */
  private itemDepth = -1;
  /** An item of the current list was already written (the next one needs a comma). */
  private wroteItem = false;
  /** Items left out so far (figures for tests and logs). */
  dropped = 0;
  kept = 0;

  constructor(
    private readonly visibility: McpVisibility,
    /** Which lists to filter: the method's own kind, or all three when the method is not known. */
    private readonly kinds: ReadonlySet<McpItemKind>,
    private readonly maxItemBytes = DEFAULT_MAX_ITEM_BYTES,
  ) {}

  /** The bytes to send in place of `chunk` (may be empty while an item is being read). */
  push(chunk: Uint8Array): Uint8Array {
    const out: Uint8Array[] = [];
    let passFrom = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (this.inString) {
        this.stringByte(byte);
        if (!this.inString && this.item !== null && this.stack.length === this.itemDepth) {
          // A string item ended (it is dropped: items are objects).
          this.hold(chunk.subarray(passFrom, i + 1));
          passFrom = i + 1;
          this.finishItem(out);
        }
        continue;
      }
      const delimiter = isWhitespace(byte) || byte === COMMA || byte === CLOSE_ARRAY;
      if (this.item !== null && this.stack.length === this.itemDepth && delimiter) {
        // A scalar item (a number, true, false, null) ended just before this byte.
        this.hold(chunk.subarray(passFrom, i));
        passFrom = i;
        this.finishItem(out);
      }
      if (this.item === null && this.inList()) {
        if (isWhitespace(byte)) continue;
        if (byte === COMMA) {
          // Commas between items are written by us, only between kept ones.
          if (i > passFrom) out.push(chunk.subarray(passFrom, i));
          passFrom = i + 1;
          continue;
        }
        if (byte !== CLOSE_ARRAY) {
          // An item starts: what came before it goes out; the item is held until it ends.
          if (i > passFrom) out.push(chunk.subarray(passFrom, i));
          this.item = [];
          this.itemBytes = 0;
          this.itemTooLarge = false;
          this.itemDepth = this.stack.length;
          passFrom = i;
        }
      }
      if (this.structural(byte)) {
        this.hold(chunk.subarray(passFrom, i + 1));
        passFrom = i + 1;
        this.finishItem(out);
      }
    }
    if (this.item !== null) {
      this.hold(chunk.subarray(passFrom));
    } else if (passFrom < chunk.length) {
      out.push(chunk.subarray(passFrom));
    }
    if (out.length === 0) return new Uint8Array(0);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The body ended: an unfinished item is dropped (nothing half-read is shown). */
  end(): Uint8Array {
    if (this.item !== null) {
      this.item = null;
      this.dropped++;
    }
    return new Uint8Array(0);
  }

  private inList(): boolean {
    const top = this.stack[this.stack.length - 1];
    return top !== undefined && top.role === "list";
  }

  private stringByte(byte: number): void {
    if (this.escaped) this.escaped = false;
    else if (byte === BACKSLASH) this.escaped = true;
    else if (byte === QUOTE) {
      this.inString = false;
      this.endString();
      return;
    }
    if (this.keyParts !== null) {
      if (this.keyParts.length < MAX_KEY_BYTES) this.keyParts.push(byte);
      else this.keyTooLong = true;
    }
  }

  private endString(): void {
    const parts = this.keyParts;
    if (parts === null) return;
    this.keyParts = null;
    const top = this.stack[this.stack.length - 1]!;
    if (this.keyTooLong) {
      top.key = null;
      return;
    }
    try {
      const decoded: unknown = JSON.parse(`"${Buffer.from(parts).toString("utf8")}"`);
      top.key = typeof decoded === "string" ? decoded : null;
    } catch {
      top.key = null;
    }
  }

  /** Tracks nesting; true when `byte` closes the container an item began with. */
  private structural(byte: number): boolean {
    const top = this.stack[this.stack.length - 1];
    switch (byte) {
      case QUOTE: {
        this.inString = true;
        this.escaped = false;
        // Only keys of the frames whose children we classify are decoded.
        if (top?.container === "object" && top.expectingKey && top.role !== "other" && top.role !== "list") {
          this.keyParts = [];
          this.keyTooLong = false;
        }
        return false;
      }
      case OPEN_OBJECT:
      case OPEN_ARRAY: {
        const container = byte === OPEN_OBJECT ? "object" : "array";
        const { role, kind } = this.childRole(top, container);
        if (role === "list") this.wroteItem = false;
        this.stack.push({ container, role, kind, expectingKey: container === "object", key: null });
        return false;
      }
      case CLOSE_OBJECT:
      case CLOSE_ARRAY: {
        this.stack.pop();
        return this.item !== null && this.stack.length === this.itemDepth;
      }
      case COLON:
        if (top?.container === "object") top.expectingKey = false;
        return false;
      case COMMA:
        if (top?.container === "object") {
          top.expectingKey = true;
          top.key = null;
        }
        return false;
      default:
        return false;
    }
  }

  private childRole(
    parent: Frame | undefined,
    container: "object" | "array",
  ): { role: Role; kind: McpItemKind | null } {
    if (parent === undefined) return { role: container === "array" ? "batch" : "response", kind: null };
    if (parent.role === "batch" && container === "object") return { role: "response", kind: null };
    if (parent.role === "response" && container === "object" && parent.key === "result")
      return { role: "result", kind: null };
    if (
      parent.role === "result" &&
      container === "array" &&
      parent.key !== null &&
      LIST_KEYS.has(parent.key)
    ) {
      const kind = parent.key as McpItemKind;
      if (this.kinds.has(kind)) return { role: "list", kind };
    }
    return { role: "other", kind: null };
  }

  private hold(part: Uint8Array): void {
    if (part.length === 0 || this.itemTooLarge) return;
    this.itemBytes += part.length;
    if (this.itemBytes > this.maxItemBytes) {
      this.itemTooLarge = true;
      this.item = [];
      return;
    }
    // Copy: the caller's chunk is not ours to keep.
    this.item!.push(Uint8Array.from(part));
  }

  private finishItem(out: Uint8Array[]): void {
    const parts = this.item!;
    this.item = null;
    const list = this.stack[this.stack.length - 1]!;
    const bytes = this.itemTooLarge ? null : Buffer.concat(parts);
    if (bytes === null || !this.admits(list.kind!, bytes)) {
      this.dropped++;
      return;
    }
    this.kept++;
    if (this.wroteItem) out.push(COMMA_BYTES);
    this.wroteItem = true;
    out.push(bytes);
  }

  private admits(kind: McpItemKind, bytes: Buffer): boolean {
    let item: unknown;
    try {
      item = JSON.parse(bytes.toString("utf8"));
    } catch {
      return false;
    }
    if (typeof item !== "object" || item === null || Array.isArray(item)) return false;
    const name = (item as Record<string, unknown>)[ITEM_KEY[kind]];
    return typeof name === "string" && isVisible(this.visibility, kind, name);
  }
}

/** Filters a whole answer held in memory (tests, small bodies): the same bytes a streamed pass gives. */
export function filterListAnswer(
  body: Uint8Array,
  visibility: McpVisibility,
  kinds: ReadonlySet<McpItemKind>,
): Uint8Array {
  const filter = new ListFilter(visibility, kinds);
  return Buffer.concat([filter.push(body), filter.end()]);
}
