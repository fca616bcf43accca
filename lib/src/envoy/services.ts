import type { ServiceDefinition, MethodDefinition } from "@grpc/grpc-js";
import { envoy } from "../gen/envoy.js";

/**
 * grpc-js service definitions for the two Envoy services we serve, wired to the protobufjs static
 * codecs generated from the protos in @grpc/grpc-js-xds (scripts/gen-protos.mjs). Decoding yields
 * message instances; encoding accepts plain objects of the generated interfaces.
 */
export const auth = envoy.service.auth.v3;
export const extProc = envoy.service.ext_proc.v3;

export type CheckRequest = envoy.service.auth.v3.CheckRequest;
export type ICheckResponse = envoy.service.auth.v3.ICheckResponse;
export type ProcessingRequest = envoy.service.ext_proc.v3.ProcessingRequest;
export type IProcessingResponse = envoy.service.ext_proc.v3.IProcessingResponse;

interface Codec<T, I> {
  encode(message: I): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

function method<Req, IReq, Res, IRes>(
  path: string,
  request: Codec<Req, IReq>,
  response: Codec<Res, IRes>,
  streaming: boolean,
): MethodDefinition<Req, IRes> {
  return {
    path,
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: (value: Req) => Buffer.from(request.encode(value as unknown as IReq).finish()),
    requestDeserialize: (bytes: Buffer) => request.decode(bytes),
    responseSerialize: (value: IRes) => {
      const out = response.encode(value).finish();
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    },
    responseDeserialize: (bytes: Buffer) => response.decode(bytes) as unknown as IRes,
  };
}

export const AuthorizationService = {
  check: method("/envoy.service.auth.v3.Authorization/Check", auth.CheckRequest, auth.CheckResponse, false),
} satisfies ServiceDefinition;

export const ExternalProcessorService = {
  process: method(
    "/envoy.service.ext_proc.v3.ExternalProcessor/Process",
    extProc.ProcessingRequest,
    extProc.ProcessingResponse,
    true,
  ),
} satisfies ServiceDefinition;

export const rateLimit = envoy.service.ratelimit.v3;
export type IRateLimitRequest = envoy.service.ratelimit.v3.IRateLimitRequest;
export type RateLimitResponse = envoy.service.ratelimit.v3.RateLimitResponse;

/** The global rate-limit service (envoyproxy/ratelimit), which extproc-server calls to charge LLM tokens. */
export const RateLimitServiceDefinition = {
  shouldRateLimit: method(
    "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit",
    rateLimit.RateLimitRequest,
    rateLimit.RateLimitResponse,
    false,
  ),
} satisfies ServiceDefinition;
