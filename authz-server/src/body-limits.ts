/**
 * Limits on a JSON request body, checked on the raw text before it is parsed or reaches the policy:
 * a body built to exhaust the parser or the policy engine (100,000 nested arrays made opa-wasm throw
 * a RangeError, a 500) is refused with a 400/413 that names the limit. One pass over the text, no
 * allocation; it counts structure only and leaves syntax errors to JSON.parse.
 */
export interface BodyLimits {
  /** Bytes of the body (Envoy refuses more than the route's buffer first; this guards any other way in). */
  maxBytes: number;
  /** Nesting of objects and arrays. */
  maxDepth: number;
  /** Object members in the whole document. */
  maxKeys: number;
  /** Bytes of any one string, escapes included. */
  maxStringBytes: number;
}

export const DEFAULT_BODY_LIMITS: Readonly<BodyLimits> = Object.freeze({
  maxBytes: 1024 * 1024,
  maxDepth: 64,
  maxKeys: 10_000,
  maxStringBytes: 512 * 1024,
});

export interface BodyLimitExceeded {
  limit: keyof BodyLimits;
  status: 400 | 413;
  code: "payload_too_large" | "body_too_deep" | "body_too_many_keys" | "body_string_too_long";
  message: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/**
 * The first limit the body breaks, or null. `text` is the body as received; string lengths are
 * counted in UTF-16 code units of the raw text (bytes, for the ASCII that JSON escapes to).
 * Strings (most of an LLM request) are skipped with indexOf, so the scan costs little next to
 * JSON.parse; the structure between them is walked character by character.
 */
export function checkBodyLimits(
  text: string,
  byteLength: number,
  limits: BodyLimits,
): BodyLimitExceeded | null {
  if (byteLength > limits.maxBytes)
    return {
      limit: "maxBytes",
      status: 413,
      code: "payload_too_large",
      message: `request body is larger than the limit of ${limits.maxBytes} bytes`,
    };
  let depth = 0;
  let keys = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i + 1);
      if (end - (i + 1) > limits.maxStringBytes) return STRING_TOO_LONG(limits);
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > limits.maxDepth)
        return {
          limit: "maxDepth",
          status: 400,
          code: "body_too_deep",
          message: `the request body nests deeper than the limit of ${limits.maxDepth} levels`,
        };
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
    else if (c === COLON && ++keys > limits.maxKeys)
      return {
        limit: "maxKeys",
        status: 400,
        code: "body_too_many_keys",
        message: `the request body has more object keys than the limit of ${limits.maxKeys}`,
      };
  }
  return null;
}

/** The index of the quote that ends a string starting at `from` (text.length if none does). */
function closingQuote(text: string, from: number): number {
  let at = from;
  for (;;) {
    const quote = text.indexOf('"', at);
    if (quote === -1) return text.length;
    // Escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    while (quote - 1 - backslashes >= from && text.charCodeAt(quote - 1 - backslashes) === BACKSLASH)
      backslashes++;
    if (backslashes % 2 === 0) return quote;
    at = quote + 1;
  }
}

const STRING_TOO_LONG = (limits: BodyLimits): BodyLimitExceeded => ({
  limit: "maxStringBytes",
  status: 400,
  code: "body_string_too_long",
  message: `a string in the request body is longer than the limit of ${limits.maxStringBytes} bytes`,
});
