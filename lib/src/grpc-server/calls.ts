import type { Metadata } from "@grpc/grpc-js";
import type { CallStatus } from "../grpc-h2/status.js";

/**
 * The parts of a gRPC call our handlers use, met by grpc-js's call objects and by the node:http2
 * transport's (lib/src/grpc-h2/), so a handler runs unchanged on either (WARDEN_GRPC_TRANSPORT).
 */
export interface UnaryCall<Request> {
  readonly request: Request;
  /** Request metadata (e.g. Envoy's `traceparent`). */
  readonly metadata: Metadata;
}

/** Answers a unary call once: a response, or a status other than OK. */
export type UnaryCallback<Response> = (error: CallStatus | null, response?: Response) => void;

export type UnaryHandler<Request, Response> = (
  call: UnaryCall<Request>,
  callback: UnaryCallback<Response>,
) => void;

/**
 * A bidirectional stream. `emit("error", status)` ends the call with that status (grpc-js's
 * convention, kept so both transports read the same); `end()` ends it with OK.
 */
export interface DuplexCall<Request, Response> {
  readonly metadata: Metadata;
  /** The client went away (reset, deadline) before the call ended. */
  readonly cancelled: boolean;
  write(message: Response): boolean;
  end(): void;
  emit(event: "error", status: CallStatus): boolean;
  on(event: "data", listener: (message: Request) => void): this;
  on(event: "end" | "cancelled" | "close", listener: () => void): this;
  on(event: "error", listener: (error: Error) => void): this;
}
