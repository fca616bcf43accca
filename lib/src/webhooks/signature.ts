import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Webhook signatures, written by the control plane and checked by receivers (this module is what a
 * receiver in TypeScript can import; docs/integrations.md has the same in a few lines for others).
 *
 *   Warden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
 *
 * The timestamp is inside the MAC, so a receiver that refuses timestamps outside a window (5 minutes
 * by default) and remembers the event ids it accepted within that window refuses every replay. Every
 * attempt of a delivery is signed anew with the time it is sent.
 */
export const SIGNATURE_HEADER = "warden-signature";
export const EVENT_ID_HEADER = "warden-event-id";
export const EVENT_TYPE_HEADER = "warden-event-type";
export const ATTEMPT_HEADER = "warden-delivery-attempt";
export const DEFAULT_TOLERANCE_S = 300;

export function signatureOf(secret: string, timestamp: number, body: string | Buffer): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

/** The header value for a body sent at `timestamp` (unix seconds). */
export function signatureHeader(secret: string, timestamp: number, body: string | Buffer): string {
  return `t=${timestamp},v1=${signatureOf(secret, timestamp, body)}`;
}

export type VerifyFailure = "malformed" | "bad_signature" | "outside_window";

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; failure: VerifyFailure };

/** The parts of a header; several `v1=` are allowed (a receiver checks any), unknown keys ignored. */
export function parseSignatureHeader(header: string): { timestamp: number; signatures: string[] } | null {
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split("=", 2);
    if (key === "t" && value !== undefined && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === "v1" && value !== undefined && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  return timestamp === null || signatures.length === 0 ? null : { timestamp, signatures };
}

/**
 * Checks a delivery: the header's MAC over the raw body (constant-time), and its timestamp within
 * `toleranceSeconds` of `now`. Verify the raw bytes as received, before any JSON parsing.
 */
export function verifySignature(options: {
  header: string | undefined;
  body: string | Buffer;
  secret: string;
  now?: Date;
  toleranceSeconds?: number;
}): VerifyResult {
  const parsed = options.header === undefined ? null : parseSignatureHeader(options.header);
  if (!parsed) return { ok: false, failure: "malformed" };
  const expected = Buffer.from(signatureOf(options.secret, parsed.timestamp, options.body), "hex");
  const matches = parsed.signatures.some((candidate) =>
    timingSafeEqual(expected, Buffer.from(candidate, "hex")),
  );
  if (!matches) return { ok: false, failure: "bad_signature" };
  const nowS = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(nowS - parsed.timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_S))
    return { ok: false, failure: "outside_window" };
  return { ok: true, timestamp: parsed.timestamp };
}

/**
 * The receiver's other half of replay protection: event ids accepted within the window. An id seen
 * before is a replay (or a retry of a delivery the receiver already took: answer 2xx to those if the
 * first one was processed). Entries older than the window are dropped, since the signature check
 * refuses those timestamps anyway.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly toleranceSeconds = DEFAULT_TOLERANCE_S) {}

  /** true the first time an id is offered within the window; false for a replay. */
  accept(eventId: string, now: Date = new Date()): boolean {
    const nowMs = now.getTime();
    for (const [id, at] of this.seen) if (nowMs - at > 2 * this.toleranceSeconds * 1000) this.seen.delete(id);
    if (this.seen.has(eventId)) return false;
    this.seen.set(eventId, nowMs);
    return true;
  }
}
