import { type Client, type ClientDuplexStream, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { ExternalProcessorService, extProc } from "../../../lib/src/envoy/services.js";
import type { envoy } from "../../../lib/src/gen/envoy.js";
import { encodeRequest } from "./envoy-messages.js";

/**
 * A test client that plays Envoy's part on one ext_proc stream: send a message, read the reply to it.
 * Used by the server tests and the integration test (never by production code).
 */
type ProcessingResponse = envoy.service.ext_proc.v3.ProcessingResponse;
type IProcessingRequest = envoy.service.ext_proc.v3.IProcessingRequest;

const PROCESS_PATH = ExternalProcessorService.process.path;
const REPLY_TIMEOUT_MS = 5_000;

/** One ext_proc stream seen from Envoy's side: send a message, read the reply to it. */
export class ExchangeStream<Outgoing> {
  private readonly replies: ProcessingResponse[] = [];
  private readonly waiting: ((reply: ProcessingResponse) => void)[] = [];
  readonly status: Promise<StatusObject>;

  constructor(private readonly call: ClientDuplexStream<Outgoing, ProcessingResponse>) {
    call.on("data", (reply: ProcessingResponse) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(reply);
      else this.replies.push(reply);
    });
    call.on("error", () => undefined); // the status promise reports it
    this.status = new Promise((resolve) => call.on("status", resolve));
  }

  static open(client: Client): ExchangeStream<IProcessingRequest> {
    return new ExchangeStream(
      client.makeBidiStreamRequest(
        PROCESS_PATH,
        (message: IProcessingRequest) => encodeRequest(message),
        (bytes: Buffer) => extProc.ProcessingResponse.decode(bytes),
      ),
    );
  }

  static openRaw(client: Client): ExchangeStream<Buffer> {
    return new ExchangeStream(
      client.makeBidiStreamRequest(
        PROCESS_PATH,
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => extProc.ProcessingResponse.decode(bytes),
      ),
    );
  }

  send(message: Outgoing): Promise<ProcessingResponse> {
    this.call.write(message);
    return this.nextReply();
  }

  /** Writes without waiting, as Envoy does with STREAMED body chunks. */
  write(message: Outgoing): void {
    this.call.write(message);
  }

  cancel(): void {
    this.call.cancel();
  }

  nextReply(): Promise<ProcessingResponse> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no reply from extproc-server")), REPLY_TIMEOUT_MS);
      this.waiting.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  /** Envoy half-closes when the exchange is over; the server answers with an OK status. */
  close(): Promise<StatusObject> {
    this.call.end();
    return this.status;
  }
}

export function healthCheck(client: Client, service: string): Promise<string> {
  const check = healthService.Check!;
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      check.path,
      (value: { service: string }) => check.requestSerialize(value),
      (bytes: Buffer) => check.responseDeserialize(bytes) as { status: string },
      { service },
      (error: ServiceError | null, reply?: { status: string }) =>
        error ? reject(error) : resolve(reply?.status ?? "none"),
    ),
  );
}
