import { REDACTED } from "../../../lib/src/credentials.js";

const MARKER = Buffer.from(REDACTED);
/** Shorter values are not scrubbed: replacing every "abc" in a completion would mangle it for nothing. */
export const MIN_SECRET_LENGTH = 8;

/**
 * Replaces known credential values (API keys Warden injected) in response bytes with `[REDACTED]`,
 * so an upstream that echoes a key (in an error message, a debug header) cannot hand it to the
 * agent. The marker keeps JSON strings valid. Built once per set of secrets; `scrub` allocates only
 * when it finds something.
 */
export class SecretScrubber {
  private readonly secrets: readonly Buffer[];
  private readonly values: ReadonlySet<string>;
  /** The longest secret in bytes: a streaming caller must hold back this much minus one to catch a split one. */
  readonly longest: number;

  constructor(values: Iterable<string>) {
    const unique = new Set([...values].filter((value) => value.length >= MIN_SECRET_LENGTH));
    this.values = unique;
    this.secrets = [...unique].map((value) => Buffer.from(value, "utf8"));
    this.longest = this.secrets.reduce((max, secret) => Math.max(max, secret.length), 0);
  }

  has(value: string): boolean {
    return this.values.has(value);
  }

  /** The same scrubber plus one more value (this one, if it already knows the value). */
  with(value: string): SecretScrubber {
    return this.values.has(value) || value.length < MIN_SECRET_LENGTH
      ? this
      : new SecretScrubber([...this.values, value]);
  }

  get isEmpty(): boolean {
    return this.secrets.length === 0;
  }

  /** The bytes with every secret replaced, or undefined when none occurs (the caller sends the original). */
  scrub(bytes: Uint8Array): Uint8Array | undefined {
    let current: Buffer | undefined;
    for (const secret of this.secrets) {
      const source = current ?? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const replaced = replaceAll(source, secret);
      if (replaced) current = replaced;
    }
    return current;
  }

  /**
   * How many bytes at the end of `bytes` could be the start of a secret that the next chunk
   * completes (the longest such suffix; 0 when none). A streaming scrubber holds exactly those back.
   */
  partialSecretAtEnd(bytes: Uint8Array): number {
    let from = bytes.length;
    for (const secret of this.secrets) {
      const first = secret[0]!;
      for (let p = Math.max(0, bytes.length - secret.length + 1); p < from; p++) {
        if (bytes[p] !== first) continue;
        if (isPrefix(bytes, p, secret)) {
          from = p;
          break;
        }
      }
    }
    return bytes.length - from;
  }

  /** A header value with every secret replaced, or undefined when none occurs. */
  scrubText(text: string): string | undefined {
    let current: string | undefined;
    for (const value of this.values) {
      const source = current ?? text;
      if (source.includes(value)) current = source.split(value).join(REDACTED);
    }
    return current;
  }
}

/** bytes[from..] is a prefix of secret. */
function isPrefix(bytes: Uint8Array, from: number, secret: Uint8Array): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== secret[i - from]) return false;
  return true;
}

function replaceAll(source: Buffer, secret: Buffer): Buffer | undefined {
  let found = source.indexOf(secret);
  if (found === -1) return undefined;
  const parts: Buffer[] = [];
  let from = 0;
  while (found !== -1) {
    parts.push(source.subarray(from, found), MARKER);
    from = found + secret.length;
    found = source.indexOf(secret, from);
  }
  parts.push(source.subarray(from));
  return Buffer.concat(parts);
}
