import { status as GrpcStatus, type ServiceDefinition } from "@grpc/grpc-js";
import type { Tracer } from "@opentelemetry/api";
import { performance } from "node:perf_hooks";
import { ExternalProcessorService, type IProcessingResponse } from "../../lib/src/envoy/services.js";
import type { DuplexCall } from "../../lib/src/grpc-server/calls.js";
import { createGrpcEdge, type EdgeTransport, type GrpcEdge } from "../../lib/src/grpc-server/edge.js";
import type { Logger } from "../../lib/src/logger.js";
import { decodeProcessingRequest, type IncomingMessage } from "./incoming.js";
import type { Provider } from "./providers.js";
import { ProtocolViolation, StreamProcessor, type Reply } from "./stream-processor.js";
import { StreamTrace } from "./tracing.js";

export const EXTPROC_SERVICE_NAME = "envoy.service.ext_proc.v3.ExternalProcessor";

/** Streams older than this are not closed by us (an Envoy crash, see the "end" handler). */
export const LONG_STREAM_MS = 30_000;

// Same wire method as lib's definition, but a frame that does not decode reaches the stream as a
// value (answered with a JSON error) instead of ending the call from inside grpc-js.
const ProcessService = {
  process: { ...ExternalProcessorService.process, requestDeserialize: decodeProcessingRequest },
} satisfies ServiceDefinition;

type ProcessCall = DuplexCall<IncomingMessage, IProcessingResponse>;

export interface ExtProcServerOptions extends EdgeTransport {
  logger: Logger;
  providers?: readonly Provider[];
  /** Tracing on: a span per stream and per phase (tracing.ts). */
  tracer?: Tracer | null;
}

/**
 * The gRPC edge: one StreamProcessor per ext_proc stream, replies written in order, health, and a
 * drain on shutdown. Nothing here decides anything, and nothing a client sends can stop the process.
 */
export class ExtProcServer {
  private readonly server: GrpcEdge;
  private readonly providers: readonly Provider[];
  private open = 0;
  private violations = 0;

  constructor(private readonly options: ExtProcServerOptions) {
    this.server = createGrpcEdge(EXTPROC_SERVICE_NAME, 8 * 1024 * 1024, options);
    this.providers = options.providers ?? [];
    this.server.addService(ProcessService, { process: (call: ProcessCall) => this.serveStream(call) });
  }

  /** Streams ended for messages out of protocol order (phase-order.ts) since start. */
  get protocolViolations(): number {
    return this.violations;
  }

  /** ext_proc streams in flight (each is one HTTP exchange). */
  get openStreams(): number {
    return this.open;
  }

  /** Serving as soon as it listens: nothing must load first. */
  async listen(address: string): Promise<number> {
    const port = await this.server.listen(address);
    this.setServing(true);
    return port;
  }

  setServing(serving: boolean): void {
    this.server.setServing(serving);
  }

  /**
   * Stops taking new streams and lets open ones finish: an open stream is an HTTP exchange in flight
   * (possibly a long LLM stream). After `graceMs` the rest are cut.
   */
  shutdown(graceMs: number): Promise<void> {
    return this.server.shutdown(graceMs, () =>
      this.options.logger.warn({ open_streams: this.open }, "drain timed out; closing open streams"),
    );
  }

  private serveStream(call: ProcessCall): void {
    const { logger } = this.options;
    const processor = new StreamProcessor({ providers: this.providers, logger });
    const trace = this.options.tracer ? new StreamTrace(this.options.tracer, call.metadata) : null;
    this.open++;
    let closed = false;
    // Replies must leave in the order messages came; a chain exists only while a reply is async.
    let pending: Promise<void> | null = null;

    const send = (reply: Reply): void => {
      if (reply instanceof ProtocolViolation) {
        this.violations++;
        logger.warn({ protocol_violations: this.violations }, "ext_proc stream ended: protocol violation");
        if (!closed && !call.cancelled)
          call.emit("error", {
            code: GrpcStatus.FAILED_PRECONDITION,
            details: "ext_proc message out of order",
          });
        return;
      }
      if (reply && !closed && !call.cancelled) call.write(reply);
    };
    const broken = (error: unknown): void => {
      // Only a bug in this file can get here (the processor never throws); keep the process alive.
      logger.error({ err: error }, "ext_proc stream failed");
      if (!closed && !call.cancelled)
        call.emit("error", { code: GrpcStatus.INTERNAL, details: "ext_proc stream failed" });
    };
    const handle = (message: IncomingMessage): void | Promise<void> => {
      try {
        const reply = trace
          ? trace.within(message, () => processor.process(message))
          : processor.process(message);
        if (!(reply instanceof Promise)) return send(reply);
        return reply.then(send).catch(broken);
      } catch (error) {
        broken(error);
      }
    };
    const close = (): void => {
      if (closed) return;
      closed = true;
      this.open--;
      if (trace) trace.end(() => processor.end());
      else processor.end();
    };

    call.on("data", (message: IncomingMessage) => {
      if (pending) {
        const chained: Promise<void> = pending.then(() => handle(message));
        pending = chained;
        void chained.finally(() => {
          if (pending === chained) pending = null;
        });
        return;
      }
      const result = handle(message);
      if (result instanceof Promise) {
        const started: Promise<void> = result;
        pending = started;
        void started.finally(() => {
          if (pending === started) pending = null;
        });
      }
    });
    const openedAt = performance.now();
    call.on("end", () => {
      // Envoy half-closed: answer what is still pending, then finish the call cleanly, unless the
      // stream is old: Envoy 1.40 with ext_proc_graceful_grpc_close crashes when the processor closes
      // a stream that has lived ~50 s or more (docs/response-path.md). Such a stream is left for
      // Envoy to reset after its deferred-close timeout (5 s); few streams live that long, so the
      // resets stay far below Node's rapid-reset limit (lib/src/envoy/bootstrap.ts, RUNTIME_FLAGS).
      void (pending ?? Promise.resolve()).then(() => {
        close();
        if (!call.cancelled && performance.now() - openedAt < LONG_STREAM_MS) call.end();
      });
    });
    call.on("cancelled", close);
    call.on("error", (error: Error) => {
      logger.debug({ err: error }, "ext_proc stream error");
      close();
    });
    call.on("close", close);
  }
}
