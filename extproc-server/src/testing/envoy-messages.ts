import { EXT_AUTHZ_NAMESPACE } from "../../../lib/src/handoff/contract.js";
import { SAMPLE_HANDOFF } from "../../../lib/src/handoff/sample.js";
import {
  extProc,
  type IProcessingResponse,
  type ProcessingRequest,
} from "../../../lib/src/envoy/services.js";
import { toStruct } from "../../../lib/src/envoy/struct.js";
import type { envoy } from "../../../lib/src/gen/envoy.js";

/**
 * ext_proc messages shaped the way Envoy sends them (header values in `raw_value` only, the
 * ext_authz decision in forwarded dynamic metadata), passed through the real codec so tests see
 * exactly what grpc-js hands the server. Shared by unit tests, the integration test and the bench.
 */

type IProcessingRequest = envoy.service.ext_proc.v3.IProcessingRequest;
type IHeaderValue = envoy.config.core.v3.IHeaderValue;

export type HeaderInput = Record<string, string> | readonly (readonly [string, string])[];

export function envoyHeaders(headers: HeaderInput): IHeaderValue[] {
  const entries = Array.isArray(headers) ? headers : Object.entries(headers);
  return entries.map(([key, value]) => ({ key, rawValue: Buffer.from(value, "utf8") }));
}

export { SAMPLE_HANDOFF };

/** The sample decision with some fields changed (another service, other scopes…). */
export function handOffFields(changes: Record<string, unknown>): Record<string, unknown> {
  return { ...SAMPLE_HANDOFF, ...changes };
}

export function authzMetadata(
  fields: Record<string, unknown> = SAMPLE_HANDOFF,
): envoy.config.core.v3.IMetadata {
  return { filterMetadata: { [EXT_AUTHZ_NAMESPACE]: toStruct(fields) } };
}

export function encodeRequest(message: IProcessingRequest): Buffer {
  return Buffer.from(extProc.ProcessingRequest.encode(message).finish());
}

function onTheWire(message: IProcessingRequest): ProcessingRequest {
  return extProc.ProcessingRequest.decode(encodeRequest(message));
}

export function requestHeadersRequest(
  headers: HeaderInput,
  options: { metadata?: envoy.config.core.v3.IMetadata | null; endOfStream?: boolean } = {},
): IProcessingRequest {
  const metadata = options.metadata === undefined ? authzMetadata() : options.metadata;
  return {
    requestHeaders: {
      headers: { headers: envoyHeaders(headers) },
      endOfStream: options.endOfStream ?? false,
    },
    ...(metadata ? { metadataContext: metadata } : {}),
  };
}

export function responseHeadersRequest(headers: HeaderInput, endOfStream = false): IProcessingRequest {
  return {
    responseHeaders: { headers: { headers: envoyHeaders(headers) }, endOfStream },
    metadataContext: authzMetadata(),
  };
}

export function requestBodyRequest(body: string | Uint8Array, endOfStream = true): IProcessingRequest {
  return { requestBody: { body: typeof body === "string" ? Buffer.from(body) : body, endOfStream } };
}

/** A response body chunk as Envoy sends it: the forwarded ext_authz metadata comes with every message. */
export function responseBodyRequest(chunk: string | Uint8Array, endOfStream = false): IProcessingRequest {
  return {
    responseBody: { body: typeof chunk === "string" ? Buffer.from(chunk) : chunk, endOfStream },
    metadataContext: authzMetadata(),
  };
}

export const wire = {
  requestHeaders: (headers: HeaderInput, options?: Parameters<typeof requestHeadersRequest>[1]) =>
    onTheWire(requestHeadersRequest(headers, options)),
  responseHeaders: (headers: HeaderInput, endOfStream?: boolean) =>
    onTheWire(responseHeadersRequest(headers, endOfStream)),
  requestBody: (body: string | Uint8Array, endOfStream?: boolean) =>
    onTheWire(requestBodyRequest(body, endOfStream)),
  responseBody: (chunk: string | Uint8Array, endOfStream?: boolean) =>
    onTheWire(responseBodyRequest(chunk, endOfStream)),
};

/** A reply as Envoy would read it: encoded and decoded by the real codec. */
export function asEnvoyReads(reply: IProcessingResponse): envoy.service.ext_proc.v3.ProcessingResponse {
  return extProc.ProcessingResponse.decode(extProc.ProcessingResponse.encode(reply).finish());
}

export interface ReadableMutation {
  set: Record<string, string>;
  remove: string[];
  /** Header values that used `value` instead of `raw_value` (Envoy answers 500 when both are set). */
  plainValues: string[];
}

export function readMutation(
  mutation: envoy.service.ext_proc.v3.IHeaderMutation | null | undefined,
): ReadableMutation {
  const set: Record<string, string> = {};
  const plainValues: string[] = [];
  for (const option of mutation?.setHeaders ?? []) {
    const key = option.header?.key ?? "";
    if (option.header?.value) plainValues.push(key);
    set[key] = Buffer.from(option.header?.rawValue ?? new Uint8Array()).toString("utf8");
  }
  return { set, remove: [...(mutation?.removeHeaders ?? [])], plainValues };
}

export interface ReadableImmediate {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  details: string;
}

/** Accepts any processor reply; a ProtocolViolation (no `immediateResponse`) reads as null. */
export function readImmediate(
  reply: IProcessingResponse | object | null | undefined,
): ReadableImmediate | null {
  const immediate =
    reply && "immediateResponse" in reply ? (reply as IProcessingResponse).immediateResponse : null;
  if (!immediate) return null;
  const body = immediate.body ? Buffer.from(immediate.body).toString("utf8") : "";
  return {
    status: Number(immediate.status?.code ?? 0),
    headers: readMutation(immediate.headers).set,
    body: body ? (JSON.parse(body) as unknown) : null,
    details: immediate.details ?? "",
  };
}
