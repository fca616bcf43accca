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
/** Longest item name (a resource URI can be long) the filter reads; a longer one is not admitted. */
const MAX_NAME_BYTES = 8192;

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
  /** What the string being captured is: an object key, or the name (URI) of the current item. */
  private capturing: "key" | "name" = "key";
  /** The current item: an object, its name (its one `name` or `uri` key's string), how many such keys. */
  private itemIsObject = false;
  private itemName: string | null = null;
  private itemNameKeys = 0;
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
      if (this.inString && this.keyParts === null && !this.escaped) {
        // Inside a string nobody reads: jump to its closing quote (memchr), not byte by byte.
        const close = closingQuote(chunk, i);
        if (close === -1) {
          this.escaped = endsWithOddBackslashes(chunk, i);
          i = chunk.length - 1;
          continue;
        }
        i = close;
        this.inString = false;
        if (this.item !== null && this.stack.length === this.itemDepth) {
          this.finishItem(out, chunk.subarray(passFrom, i + 1));
          passFrom = i + 1;
        }
        continue;
      }
      if (this.inString && this.keyParts !== null && this.keyParts.length === 0 && !this.escaped) {
        // A string we read, whole in this chunk (the usual case): decoded from the chunk at once.
        const close = closingQuote(chunk, i);
        if (close !== -1) {
          this.inString = false;
          this.keyParts = null;
          this.stringRead(close - i > this.captureLimit() ? null : decodeString(chunk.subarray(i, close)));
          i = close;
          continue;
        }
      }
      if (this.inString) {
        this.stringByte(byte);
        if (!this.inString && this.item !== null && this.stack.length === this.itemDepth) {
          // A string item ended (it is dropped: items are objects).
          this.finishItem(out, chunk.subarray(passFrom, i + 1));
          passFrom = i + 1;
        }
        continue;
      }
      const delimiter = isWhitespace(byte) || byte === COMMA || byte === CLOSE_ARRAY;
      if (this.item !== null && this.stack.length === this.itemDepth && delimiter) {
        // A scalar item (a number, true, false, null) ended just before this byte.
        this.finishItem(out, chunk.subarray(passFrom, i));
        passFrom = i;
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
          this.itemIsObject = byte === OPEN_OBJECT;
          this.itemName = null;
          this.itemNameKeys = 0;
          passFrom = i;
        }
      }
      if (this.structural(byte)) {
        this.finishItem(out, chunk.subarray(passFrom, i + 1));
        passFrom = i + 1;
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
      if (this.keyParts.length < this.captureLimit()) this.keyParts.push(byte);
      else this.keyTooLong = true;
    }
  }

  private captureLimit(): number {
    return this.capturing === "key" ? MAX_KEY_BYTES : MAX_NAME_BYTES;
  }

  private endString(): void {
    const parts = this.keyParts;
    if (parts === null) return;
    this.keyParts = null;
    this.stringRead(this.keyTooLong ? null : decodeString(Uint8Array.from(parts)));
  }

  /** A captured string ended: the current object's key, or the current item's name. */
  private stringRead(decoded: string | null): void {
    if (this.capturing === "key") {
      this.stack[this.stack.length - 1]!.key = decoded;
    } else {
      this.itemNameKeys++;
      this.itemName = decoded;
    }
  }

  /** Tracks nesting; true when `byte` closes the container an item began with. */
  private structural(byte: number): boolean {
    const top = this.stack[this.stack.length - 1];
    switch (byte) {
      case QUOTE: {
        this.inString = true;
        this.escaped = false;
        if (top?.container !== "object") return false;
        // Decoded: keys of the frames whose children we classify, and of an item's own object, and
        // the item's name; nothing else (those strings are skipped at memchr speed).
        const itemTop = this.item !== null && this.stack.length === this.itemDepth + 1;
        if (top.expectingKey && (itemTop || (top.role !== "other" && top.role !== "list"))) {
          this.capturing = "key";
        } else if (
          !top.expectingKey &&
          itemTop &&
          top.key === ITEM_KEY[this.stack[this.itemDepth - 1]!.kind!]
        ) {
          this.capturing = "name";
        } else {
          return false;
        }
        this.keyParts = [];
        this.keyTooLong = false;
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

  /** The item ends with `last` (a view of the current chunk): kept (written) or dropped. */
  private finishItem(out: Uint8Array[], last: Uint8Array): void {
    const parts = this.item!;
    this.item = null;
    const list = this.stack[this.stack.length - 1]!;
    const tooLarge = this.itemTooLarge || this.itemBytes + last.length > this.maxItemBytes;
    if (tooLarge || !this.admits(list.kind!)) {
      this.dropped++;
      return;
    }
    this.kept++;
    if (this.wroteItem) out.push(COMMA_BYTES);
    this.wroteItem = true;
    // An item read within one chunk (the usual case) goes out as a view of it, not a copy.
    out.push(parts.length === 0 ? last : Buffer.concat([...parts, last]));
  }

  /**
   * An object whose one `name` (`uri`) key holds a string the visibility admits. Two such keys: not
   * admitted (parsers disagree on which wins). The item is not otherwise validated: JSON the
   * agent's client cannot parse fails there, whole.
   */
  private admits(kind: McpItemKind): boolean {
    const name = this.itemName;
    return (
      this.itemIsObject && this.itemNameKeys === 1 && name !== null && isVisible(this.visibility, kind, name)
    );
  }
}

/** A JSON string's contents (between its quotes) decoded; null when its escapes are not valid JSON. */
function decodeString(raw: Uint8Array): string | null {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (bytes.indexOf(BACKSLASH) === -1) return bytes.toString("utf8");
  try {
    const value: unknown = JSON.parse(`"${bytes.toString("utf8")}"`);
    return typeof value === "string" ? value : null;
  } catch {
    return null;
  }
}

/** The index of the quote that closes a string at `from` (an unescaped one), or -1 in this chunk. */
function closingQuote(chunk: Uint8Array, from: number): number {
  let quote = chunk.indexOf(QUOTE, from);
  while (quote !== -1) {
    let slashes = 0;
    for (let k = quote - 1; k >= from && chunk[k] === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return quote;
    quote = chunk.indexOf(QUOTE, quote + 1);
  }
  return -1;
}

/** The chunk ends with an odd run of backslashes (after `from`): the next byte is escaped. */
function endsWithOddBackslashes(chunk: Uint8Array, from: number): boolean {
  let slashes = 0;
  for (let k = chunk.length - 1; k >= from && chunk[k] === BACKSLASH; k--) slashes++;
  return slashes % 2 === 1;
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
