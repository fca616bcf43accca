import protobuf from "protobufjs/minimal.js";
import { extProc, type ProcessingRequest } from "../../lib/src/envoy/services.js";

/** A frame that is not a ProcessingRequest. It is answered like any failure, not by a crash. */
export class UndecodableMessage {
  constructor(readonly reason: string) {}
}

export type IncomingMessage = ProcessingRequest | UndecodableMessage;

/** ProcessingRequest field 5 (response_body), length-delimited: the tag byte Envoy puts first. */
const RESPONSE_BODY_TAG = (5 << 3) | 2;
/** The fields of ProcessingRequest's `request` oneof (request_headers … response_trailers). */
const FIRST_PHASE_FIELD = 2;
const LAST_PHASE_FIELD = 7;

/**
 * grpc-js ends the whole call when a deserializer throws; returning a marker instead lets the stream
 * answer the agent with a JSON error while the server carries on.
 */
export function decodeProcessingRequest(bytes: Buffer): IncomingMessage {
  try {
    return (
      (bytes[0] === RESPONSE_BODY_TAG ? responseBodyOnly(bytes) : null) ??
      extProc.ProcessingRequest.decode(bytes)
    );
  } catch (error) {
    return new UndecodableMessage(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The hot path of a stream: a response body chunk. Envoy sends the forwarded ext_authz metadata
 * with every message, and nothing reads it after the request headers, so it is skipped here rather
 * than decoded into objects once per event. A frame naming a second phase is left to the full
 * decoder (null), so the phase seen is the one the full decoder would see.
 */
function responseBodyOnly(bytes: Buffer): ProcessingRequest | null {
  const reader = protobuf.Reader.create(bytes);
  reader.uint32();
  const body = extProc.HttpBody.decode(reader, reader.uint32());
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field >= FIRST_PHASE_FIELD && field <= LAST_PHASE_FIELD) return null;
    reader.skipType(tag & 7);
  }
  const message = new extProc.ProcessingRequest();
  message.responseBody = body;
  return message;
}
