import {
  credentials,
  makeGenericClientConstructor,
  type CallOptions,
  type Client,
  type ServiceError,
} from "@grpc/grpc-js";
import type { envoy } from "../../lib/src/gen/envoy.js";
import { AuthorizationService, type ICheckResponse } from "../../lib/src/envoy/services.js";

/** A gRPC client of authz-server's Check, asking as Envoy does. */
export interface CheckClient extends Client {
  check(
    request: envoy.service.auth.v3.ICheckRequest,
    options: CallOptions,
    callback: (error: ServiceError | null, response?: ICheckResponse) => void,
  ): void;
}

const AuthorizationClient = makeGenericClientConstructor(AuthorizationService, "Authorization");

/** A plaintext Check client of the authz-server at `target` (host:port). */
export function checkClient(target: string): CheckClient {
  return new AuthorizationClient(target, credentials.createInsecure()) as unknown as CheckClient;
}
