import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import {
  constants,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { DuplexCall, UnaryCallback, UnaryHandler } from "../grpc-server/calls.js";
import type { GrpcEdge } from "../grpc-server/edge.js";
import type { SvidCertificateProvider } from "../spiffe/grpc-mtls.js";
import { spiffeIdFromCertificate } from "../spiffe/x509.js";
import { H2DuplexCall, H2UnaryCall } from "./calls.js";
import { MessageDeframer } from "./framing.js";
import { parseGrpcTimeout, Status, type CallStatus } from "./status.js";

/** mTLS for the node:http2 transport: the server's SVID and the SPIFFE IDs allowed to call. */
export interface H2Mtls {
  provider: SvidCertificateProvider;
  allowed: ReadonlySet<string>;
  onRefused?: (peer: string | null) => void;
}

interface Route {
  streaming: boolean;
  deserialize: (bytes: Buffer) => unknown;
  serialize: (message: unknown) => Uint8Array;
  handler: (...args: never[]) => void;
}

type HealthStatus = "SERVING" | "NOT_SERVING";

/**
 * A gRPC server on node:http2 alone, for the two kinds of call we serve: unary (ext_authz Check,
 * grpc.health.v1 Check) and bidirectional streaming (ext_proc Process). It takes the same service
 * definitions as grpc-js (path, serializers) and runs the same handlers (grpc-server/calls.ts);
 * what it leaves out is what we do not use (compression, server/client streaming, interceptors),
 * which is where grpc-js spends per call (docs/benchmarks.md, "gRPC transport").
 *
 * With mTLS the TLS layer verifies the client's chain against the SPIRE bundle, and each call is
 * checked against the allowed SPIFFE IDs, read once per HTTP/2 session (the certificate cannot
 * change on a session: Node disables TLS renegotiation for HTTP/2). Nothing a client sends throws
 * out of here: malformed calls end with a gRPC status, malformed connections are closed.
 */
export class H2GrpcServer implements GrpcEdge {
  private readonly routes = new Map<string, Route>();
  private readonly health = new Map<string, HealthStatus>();
  private readonly sessions = new Set<Http2Session>();
  private readonly peerBySession = new WeakMap<Http2Session, string | null>();
  private server: Http2Server | Http2SecureServer | null = null;
  private stopping = false;

  constructor(
    private readonly serviceName: string,
    private readonly maxReceiveMessageBytes: number,
    private readonly mtls?: H2Mtls,
  ) {
    this.health.set("", "NOT_SERVING").set(serviceName, "NOT_SERVING");
    this.addService(healthService as ServiceDefinition, {
      Check: (call: { request: { service?: string } }, callback: UnaryCallback<{ status: HealthStatus }>) => {
        const status = this.health.get(call.request.service ?? "");
        if (status) callback(null, { status });
        else callback({ code: Status.NOT_FOUND, details: "Health status unknown for service" });
      },
    });
  }

  addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    for (const [name, method] of Object.entries(service)) {
      const handler: unknown = implementation[name] ?? implementation[method.originalName ?? ""];
      if (typeof handler !== "function") continue;
      if (method.requestStream !== method.responseStream)
        throw new Error(`${method.path}: only unary and bidirectional methods are served`);
      this.routes.set(method.path, {
        streaming: method.requestStream,
        deserialize: method.requestDeserialize as (bytes: Buffer) => unknown,
        serialize: method.responseSerialize as (message: unknown) => Uint8Array,
        handler: handler as Route["handler"],
      });
    }
  }

  async listen(address: string): Promise<number> {
    const server = this.createServer();
    this.server = server;
    server.on("stream", (stream, headers) => this.onStream(stream, headers));
    server.on("session", (session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      session.on("error", () => session.destroy());
    });
    // Replies are small and latency-bound: no Nagle delay (grpc-js does the same).
    server.on("connection", (socket: Socket) => socket.setNoDelay(true));
    server.on("sessionError", () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const unix = unixPath(address);
      const onListening = () => {
        server.off("error", reject);
        server.on("error", () => undefined);
        resolve();
      };
      if (unix !== null) server.listen(unix, onListening);
      else {
        const { host, port } = hostPort(address);
        server.listen(port, host, onListening);
      }
    });
    const bound = server.address();
    return typeof bound === "object" && bound !== null ? bound.port : 0;
  }

  setServing(serving: boolean): void {
    const status: HealthStatus = serving ? "SERVING" : "NOT_SERVING";
    this.health.set("", status).set(this.serviceName, status);
  }

  /** Health NOT_SERVING, GOAWAY to every client, calls in flight finish for up to `graceMs`; then cut. */
  async shutdown(graceMs: number, onForced?: () => void): Promise<void> {
    this.setServing(false);
    this.stopping = true;
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<"forced">((resolve) => {
      timer = setTimeout(() => resolve("forced"), graceMs);
    });
    if ((await Promise.race([closed, forced])) === "forced") {
      onForced?.();
      for (const session of this.sessions) session.destroy();
      await closed;
    }
    clearTimeout(timer);
  }

  private createServer(): Http2Server | Http2SecureServer {
    const options = {
      // Flow-control windows well above HTTP/2's 64 KiB default: ext_proc carries bodies.
      settings: { initialWindowSize: 1 << 20 },
      // As grpc-js does: Node's per-session memory cap (10 MB) answers a large streamed body with
      // ENHANCE_YOUR_CALM for every stream of the session; memory is bounded per stream instead
      // (the flow-control window, and reads paused while writes are buffered).
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
    };
    if (!this.mtls) return createServer(options);
    const { provider } = this.mtls;
    const server = createSecureServer({
      ...provider.tlsMaterial(),
      ...options,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
      ALPNProtocols: ["h2"],
    });
    // A rotated SVID serves new handshakes; open sessions keep theirs (as with grpc-js).
    provider.onRotated(() => server.setSecureContext(provider.tlsMaterial()));
    return server;
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    // An error on one stream (a reset, a write after close) is that stream's end, never the process's.
    stream.on("error", () => undefined);
    if (headers[":method"] !== "POST") {
      respondHttp(stream, constants.HTTP_STATUS_METHOD_NOT_ALLOWED);
      return;
    }
    const contentType = headers["content-type"];
    if (typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
      respondHttp(stream, constants.HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE);
      return;
    }
    const route = this.routes.get(headers[":path"] ?? "");
    if (!route) {
      trailersOnly(stream, { code: Status.UNIMPLEMENTED, details: `${headers[":path"]} is not served` });
      return;
    }
    if (this.stopping) {
      trailersOnly(stream, { code: Status.UNAVAILABLE, details: "server is shutting down" });
      return;
    }
    const refusal = this.refusal(stream.session);
    if (refusal) {
      trailersOnly(stream, refusal);
      return;
    }
    const timeout = headers["grpc-timeout"];
    const deadlineMs = parseGrpcTimeout(typeof timeout === "string" ? timeout : undefined);
    if (deadlineMs === undefined) {
      trailersOnly(stream, { code: Status.INTERNAL, details: "malformed grpc-timeout" });
      return;
    }
    if (route.streaming) this.serveDuplex(stream, headers, route, deadlineMs);
    else this.serveUnary(stream, headers, route, deadlineMs);
  }

  /** PERMISSION_DENIED unless the session's peer is one of the allowed SPIFFE IDs (no mTLS: null). */
  private refusal(session: Http2Session | undefined): CallStatus | null {
    if (!this.mtls || !session) return null;
    let peer = this.peerBySession.get(session);
    if (peer === undefined) {
      peer = peerOfSession(session);
      this.peerBySession.set(session, peer);
    }
    if (peer !== null && this.mtls.allowed.has(peer)) return null;
    this.mtls.onRefused?.(peer);
    return {
      code: Status.PERMISSION_DENIED,
      details: `${peer ?? "a caller without a SPIFFE ID"} may not call this service`,
    };
  }

  private serveUnary(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    route: Route,
    deadlineMs: number | null,
  ): void {
    const call = new H2UnaryCall<unknown>(stream, headers, route.serialize, deadlineMs);
    const deframer = new MessageDeframer(this.maxReceiveMessageBytes);
    let request: Buffer | null = null;
    let failure: CallStatus | null = null;
    stream.on("data", (chunk: Buffer) => {
      if (failure) return;
      const messages = deframer.push(chunk);
      if (!Array.isArray(messages)) failure = messages;
      else if (messages.length > 0) {
        if (request !== null || messages.length > 1)
          failure = { code: Status.UNIMPLEMENTED, details: "more than one request message on a unary call" };
        else request = messages[0]!;
      }
      if (failure) call.finish(failure);
    });
    stream.on("end", () => {
      if (failure || call.done) return;
      if (request === null || deframer.buffered > 0) {
        call.finish({ code: Status.UNIMPLEMENTED, details: "a unary call needs exactly one whole request" });
        return;
      }
      try {
        call.request = route.deserialize(request);
      } catch {
        call.finish({ code: Status.INTERNAL, details: "could not parse the request" });
        return;
      }
      const callback: UnaryCallback<unknown> = (error, response) => {
        if (call.done) return;
        if (error) {
          call.finish(error);
          return;
        }
        try {
          call.send(response);
        } catch {
          call.finish({ code: Status.INTERNAL, details: "could not encode the response" });
          return;
        }
        call.finish({ code: Status.OK });
      };
      try {
        (route.handler as UnaryHandler<unknown, unknown>)(call, callback);
      } catch {
        call.finish({ code: Status.UNKNOWN, details: "the handler failed" });
      }
    });
  }

  private serveDuplex(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    route: Route,
    deadlineMs: number | null,
  ): void {
    const call = new H2DuplexCall<unknown, unknown>(
      stream,
      headers,
      route.serialize,
      route.deserialize,
      deadlineMs,
    );
    try {
      (route.handler as (call: DuplexCall<unknown, unknown>) => void)(call);
    } catch {
      call.finish({ code: Status.UNKNOWN, details: "the handler failed" });
      return;
    }
    const deframer = new MessageDeframer(this.maxReceiveMessageBytes);
    stream.on("data", (chunk: Buffer) => {
      if (call.done) return;
      const messages = deframer.push(chunk);
      if (Array.isArray(messages)) call.receive(messages);
      else call.finish(messages);
    });
    stream.on("end", () => {
      if (call.done) return;
      if (deframer.buffered > 0) {
        call.finish({ code: Status.INTERNAL, details: "request ended inside a message" });
        return;
      }
      // Node ends the readable side of a stream the client resets before it reports the reset:
      // wait a turn, so that a reset reads as a cancellation ("close"), never as a clean half-close.
      setImmediate(() => {
        if (!call.done && !stream.aborted) call.receiveEnd();
      });
    });
  }
}

function respondHttp(stream: ServerHttp2Stream, status: number): void {
  try {
    stream.respond({ ":status": status }, { endStream: true });
  } catch {
    stream.destroy();
  }
}

function trailersOnly(stream: ServerHttp2Stream, status: CallStatus): void {
  const call = new H2UnaryCall<never>(stream, {}, () => new Uint8Array(), null);
  call.finish(status);
  // The request body, if any, is not wanted.
  stream.resume();
}

function peerOfSession(session: Http2Session): string | null {
  try {
    const certificate = (session.socket as TLSSocket).getPeerX509Certificate?.();
    return certificate ? spiffeIdFromCertificate(certificate).id : null;
  } catch {
    return null;
  }
}

function unixPath(address: string): string | null {
  if (address.startsWith("unix://")) return address.slice("unix://".length);
  if (address.startsWith("unix:")) return address.slice("unix:".length);
  return null;
}

function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  if (colon < 0) throw new Error(`listen address ${address}: expected host:port or unix:path`);
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`listen address ${address}: port must be a number from 0 to 65535`);
  return { host: host === "" ? "0.0.0.0" : host, port };
}
