import { Metadata } from "@grpc/grpc-js";
import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { DuplexCall, UnaryCall } from "../grpc-server/calls.js";
import { frameMessage } from "./framing.js";
import { encodeGrpcMessage, Status, type CallStatus } from "./status.js";

const RESPONSE_HEADERS = { ":status": 200, "content-type": "application/grpc" } as const;

/**
 * One gRPC call on one HTTP/2 stream: response headers once, messages, then exactly one status
 * (in trailers, or trailers-only when nothing was sent). Everything after the status is dropped;
 * a stream the client reset, or whose deadline passed, counts as cancelled.
 */
export class H2Call extends EventEmitter {
  private headersSent = false;
  private finished = false;
  private isCancelled = false;
  private deadline: NodeJS.Timeout | null = null;
  private meta: Metadata | null = null;

  constructor(
    protected readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly serialize: (message: unknown) => Uint8Array,
    deadlineMs: number | null,
  ) {
    super();
    if (deadlineMs !== null) {
      this.deadline = setTimeout(() => {
        this.cancel();
        this.finish({ code: Status.DEADLINE_EXCEEDED, details: "Deadline exceeded" });
      }, deadlineMs);
    }
    stream.on("close", () => {
      if (this.deadline) clearTimeout(this.deadline);
      if (!this.finished) {
        this.finished = true;
        this.cancel();
      }
      this.emit("close");
    });
  }

  /** Built on first use: only tracing reads it. */
  get metadata(): Metadata {
    this.meta ??= Metadata.fromHttp2Headers(this.headers);
    return this.meta;
  }

  get cancelled(): boolean {
    return this.isCancelled;
  }

  get done(): boolean {
    return this.finished;
  }

  /** Sends one message; false when the stream's buffer is full (wait for "drain") or the call is over. */
  send(message: unknown): boolean {
    if (this.finished) return false;
    const framed = frameMessage(this.serialize(message));
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    }
    return this.stream.write(framed);
  }

  /** Ends the call with `status`; later calls are no-ops. Never throws (the stream may be gone). */
  finish(status: CallStatus): void {
    if (this.finished) return;
    this.finished = true;
    if (this.deadline) clearTimeout(this.deadline);
    const trailers = statusTrailers(status);
    try {
      if (this.stream.destroyed || this.stream.closed) return;
      // Whatever the client still sends is not wanted, but must be read: a paused stream would hold
      // its flow-control window shut and keep the stream open.
      this.stream.resume();
      if (!this.headersSent) {
        this.headersSent = true;
        this.stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
      } else {
        this.stream.once("wantTrailers", () => {
          try {
            this.stream.sendTrailers(trailers);
          } catch {
            // The stream closed meanwhile: nobody is left to tell.
          }
        });
        this.stream.end();
      }
    } catch {
      this.stream.destroy();
    }
  }

  private cancel(): void {
    if (this.isCancelled) return;
    this.isCancelled = true;
    this.emit("cancelled");
  }
}

function statusTrailers(status: CallStatus): Record<string, string> {
  const code = Number.isInteger(status.code) && status.code >= 0 && status.code <= 16 ? status.code : 2;
  const trailers: Record<string, string> = { "grpc-status": String(code) };
  if (status.details) trailers["grpc-message"] = encodeGrpcMessage(status.details);
  return trailers;
}

export class H2UnaryCall<Request> extends H2Call implements UnaryCall<Request> {
  request!: Request;
}

/**
 * A bidirectional call. Backpressure both ways: while a write is buffered (the client is not taking
 * our replies), the stream's reads are paused and messages already received wait in the inbox, so a
 * client that sends without reading cannot make us buffer without bound.
 */
export class H2DuplexCall<Request, Response> extends H2Call implements DuplexCall<Request, Response> {
  private readingPaused = false;
  private readonly inbox: Buffer[] = [];
  private halfClosed = false;
  private endDelivered = false;

  constructor(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    serialize: (message: unknown) => Uint8Array,
    private readonly deserialize: (bytes: Buffer) => unknown,
    deadlineMs: number | null,
  ) {
    super(stream, headers, serialize, deadlineMs);
    // grpc-js's convention: a handler ends the call with a status by emitting it as an error.
    this.on("error", (status: CallStatus) => this.finish(status));
  }

  /** Messages from the client, handed to the handler in order as long as it is not backed up. */
  receive(messages: Buffer[]): void {
    for (const message of messages) this.inbox.push(message);
    this.deliver();
  }

  /** The client half-closed: "end" follows the messages still in the inbox. */
  receiveEnd(): void {
    this.halfClosed = true;
    this.deliver();
  }

  write(message: Response): boolean {
    let flowing: boolean;
    try {
      flowing = this.send(message);
    } catch (error) {
      this.finish({ code: Status.INTERNAL, details: "could not encode the response" });
      throw error;
    }
    if (!flowing && !this.done && !this.readingPaused) {
      this.readingPaused = true;
      this.stream.pause();
      this.stream.once("drain", () => {
        this.readingPaused = false;
        this.stream.resume();
        this.deliver();
      });
    }
    return flowing;
  }

  end(): void {
    this.finish({ code: Status.OK });
  }

  private deliver(): void {
    while (!this.readingPaused && !this.done && this.inbox.length > 0) {
      const bytes = this.inbox.shift()!;
      let message: unknown;
      try {
        message = this.deserialize(bytes);
      } catch {
        this.finish({ code: Status.INTERNAL, details: "could not parse a request message" });
        return;
      }
      this.emit("data", message);
    }
    if (this.halfClosed && this.inbox.length === 0 && !this.done && !this.endDelivered) {
      this.endDelivered = true;
      this.emit("end");
    }
  }
}
