/**
 * gRPC status codes (grpc/doc/statuscodes.md) and the two header values the protocol defines beside
 * them: `grpc-message` (percent-encoded) and `grpc-timeout` (a deadline relative to the call's start).
 */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** What a handler ends a call with (the same shape grpc-js handlers pass to their callbacks). */
export interface CallStatus {
  code: number;
  details?: string;
}

/**
 * `grpc-message` is percent-encoded: bytes outside printable ASCII 0x20–0x7E, and `%` itself, become
 * `%XX` of their UTF-8 bytes (PROTOCOL-HTTP2.md, "Responses"). A message that needs none is returned as is.
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return out;
}

/** The reverse of encodeGrpcMessage; a malformed escape is kept as written (the spec says: do not fail). */
export function decodeGrpcMessage(encoded: string): string {
  if (!encoded.includes("%")) return encoded;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (c === 0x25 && i + 2 < encoded.length && /^[0-9a-fA-F]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c & 0xff);
  }
  return Buffer.from(bytes).toString("utf8");
}

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/**
 * `grpc-timeout`: at most 8 ASCII digits and a unit (H M S m u n). Returns milliseconds, or null
 * when absent; undefined when present but malformed (the caller refuses the call).
 */
export function parseGrpcTimeout(value: string | undefined): number | null | undefined {
  if (value === undefined) return null;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
}
