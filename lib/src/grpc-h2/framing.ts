import { Status, type CallStatus } from "./status.js";

/**
 * gRPC's length-prefixed messages (PROTOCOL-HTTP2.md, "Length-Prefixed-Message"): one byte
 * compressed flag, four bytes big-endian length, then the message. HTTP/2 DATA frames carry them
 * without regard to message boundaries: a message may span many frames and a frame may hold many.
 */
export const PREFIX_BYTES = 5;

/** One message, prefixed, in a single buffer (one write, one DATA frame for small messages). */
export function frameMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(PREFIX_BYTES + message.byteLength);
  framed[0] = 0;
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, PREFIX_BYTES);
  return framed;
}

/**
 * Splits the bytes of a request body into messages, whatever the chunking. Stops for good at the
 * first error (a compressed message, one over the size limit): the caller ends the call with it.
 */
export class MessageDeframer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Length of the message being collected, once its prefix is in; -1 while waiting for a prefix. */
  private expected = -1;
  private failure: CallStatus | null = null;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes still held: a message not yet complete (the call is malformed if the body ends here). */
  get buffered(): number {
    return this.pendingBytes;
  }

  get error(): CallStatus | null {
    return this.failure;
  }

  /** Adds a chunk; returns the messages it completed (possibly none), or a status to end the call. */
  push(chunk: Buffer): Buffer[] | CallStatus {
    if (this.failure) return this.failure;
    // Fast path: nothing held and the chunk is exactly one whole message (the common case).
    if (this.pendingBytes === 0 && chunk.length >= PREFIX_BYTES) {
      const length = chunk.readUInt32BE(1);
      if (chunk.length === PREFIX_BYTES + length) {
        const failure = this.checkPrefix(chunk[0]!, length);
        if (failure) return failure;
        return [chunk.subarray(PREFIX_BYTES)];
      }
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const messages: Buffer[] = [];
    for (;;) {
      if (this.expected < 0) {
        if (this.pendingBytes < PREFIX_BYTES) break;
        const prefix = this.take(PREFIX_BYTES);
        const length = prefix.readUInt32BE(1);
        const failure = this.checkPrefix(prefix[0]!, length);
        if (failure) return failure;
        this.expected = length;
      }
      if (this.pendingBytes < this.expected) break;
      messages.push(this.take(this.expected));
      this.expected = -1;
    }
    return messages;
  }

  private checkPrefix(flag: number, length: number): CallStatus | null {
    if (flag === 1)
      this.failure = { code: Status.UNIMPLEMENTED, details: "compressed messages are not supported" };
    else if (flag !== 0) this.failure = { code: Status.INTERNAL, details: "invalid message flag" };
    else if (length > this.maxMessageBytes)
      this.failure = {
        code: Status.RESOURCE_EXHAUSTED,
        details: `message larger than max (${length} vs. ${this.maxMessageBytes})`,
      };
    if (this.failure) {
      this.pending = [];
      this.pendingBytes = 0;
    }
    return this.failure;
  }

  /** Removes and returns the first `n` held bytes (n ≤ pendingBytes). */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.pendingBytes -= n;
    const first = this.pending[0]!;
    if (first.length === n) {
      this.pending.shift();
      return first;
    }
    if (first.length > n) {
      this.pending[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.pending[0]!;
      const wanted = n - filled;
      if (head.length <= wanted) {
        head.copy(out, filled);
        filled += head.length;
        this.pending.shift();
      } else {
        head.copy(out, filled, 0, wanted);
        this.pending[0] = head.subarray(wanted);
        filled += wanted;
      }
    }
    return out;
  }
}
