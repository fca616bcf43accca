import { createHash } from "node:crypto";

/**
 * The digest OPA signs for a structured bundle file (data.json, .manifest): not the bytes, but the
 * JSON value written compactly with object keys sorted, so whitespace and key order do not matter
 * (open-policy-agent/opa v1/bundle/hash.go `walk`). Two details decide whether our digest equals
 * OPA's: numbers keep their literal text (OPA decodes with json.Number), and strings are escaped
 * the way Go's encoding/json does with HTML escaping off. A generic canonical JSON (JSON.parse then
 * stringify) would turn 1.0 into 1 and miss those, so this has its own small parser.
 */
export function opaJsonDigest(text: string, algorithm: string): Buffer {
  const hash = createHash(algorithm);
  hash.update(canonicalOpaJson(text), "utf8");
  return hash.digest();
}

/** OPA hashes data.json and .manifest as JSON values (whitespace and key order do not matter). */
function isStructured(name: string): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return base === "data.json" || base === ".manifest";
}

/**
 * The digest of one bundle file as OPA signs and verifies it: structured files as JSON values,
 * every other file as bytes. Throws JsonSyntaxError when a structured file is not valid JSON.
 */
export function bundleFileDigest(name: string, bytes: Buffer, algorithm: string): Buffer {
  if (!isStructured(name)) return createHash(algorithm).update(bytes).digest();
  return opaJsonDigest(bytes.toString("utf8"), algorithm);
}

export function canonicalOpaJson(text: string): string {
  const parser = new Parser(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  const value = parser.value();
  parser.end();
  return value;
}

export class JsonSyntaxError extends Error {
  override name = "JsonSyntaxError";
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Code-point order, which is the byte order of UTF-8 that Go's sort.Strings uses. */
function compareCodePoints(a: string, b: string): number {
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/** Go encoding/json string escaping with SetEscapeHTML(false). */
export function goJsonString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20) out += `\\u00${c.toString(16).padStart(2, "0")}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += value[i]! + value[i + 1]!;
        i++;
      } else out += "\ufffd"; // a lone surrogate is invalid UTF-8 to Go and becomes U+FFFD
    } else if (c >= 0xdc00 && c <= 0xdfff) out += "\ufffd";
    else out += value[i]!;
  }
  return out + '"';
}

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  private fail(what: string): never {
    throw new JsonSyntaxError(`invalid JSON at offset ${this.pos}: ${what}`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  end(): void {
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail("unexpected trailing characters");
  }

  /** Parses one value and returns its canonical text. */
  value(): string {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return goJsonString(this.string());
    for (const literal of ["true", "false", "null"]) {
      if (this.text.startsWith(literal, this.pos)) {
        this.pos += literal.length;
        return literal;
      }
    }
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) this.fail("expected a value");
    this.pos += match[0].length;
    return match[0];
  }

  private object(): string {
    this.pos++;
    const members = new Map<string, string>();
    this.skipSpace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return "{}";
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail("expected an object key");
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ":") this.fail("expected ':'");
      this.pos++;
      members.set(key, this.value()); // a repeated key keeps its last value, as in Go
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === "}") break;
      if (next !== ",") this.fail("expected ',' or '}'");
    }
    const keys = [...members.keys()].sort(compareCodePoints);
    return `{${keys.map((k) => `${goJsonString(k)}:${members.get(k)!}`).join(",")}}`;
  }

  private array(): string {
    this.pos++;
    const items: string[] = [];
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return "[]";
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === "]") break;
      if (next !== ",") this.fail("expected ',' or ']'");
    }
    return `[${items.join(",")}]`;
  }

  /** A JSON string literal starting at the current '"'; returns the decoded value. */
  private string(): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (Number.isNaN(c)) this.fail("unterminated string");
      if (c === 0x22) break;
      if (c < 0x20) this.fail("control character in string");
      this.pos += c === 0x5c ? 2 : 1;
    }
    this.pos++;
    try {
      return JSON.parse(this.text.slice(start, this.pos)) as string;
    } catch {
      return this.fail("invalid string escape");
    }
  }
}
