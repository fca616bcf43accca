import { extProc, type ProcessingRequest } from "../../lib/src/envoy/services.js";

/** A frame that is not a ProcessingRequest. It is answered like any failure, not by a crash. */
export class UndecodableMessage {
  constructor(readonly reason: string) {}
}

export type IncomingMessage = ProcessingRequest | UndecodableMessage;

/**
 * grpc-js ends the whole call when a deserializer throws; returning a marker instead lets the stream
 * answer the agent with a JSON error while the server carries on.
 */
export function decodeProcessingRequest(bytes: Buffer): IncomingMessage {
  try {
    return extProc.ProcessingRequest.decode(bytes);
  } catch (error) {
    return new UndecodableMessage(error instanceof Error ? error.message : String(error));
  }
}
