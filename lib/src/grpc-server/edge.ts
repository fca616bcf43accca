import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { z } from "zod";
import type { ServerMtls } from "../spiffe/grpc-mtls.js";
import { H2GrpcServer } from "../grpc-h2/server.js";
import { GrpcServer } from "./grpc-server.js";

/** What authz-server and extproc-server need from a gRPC server, whichever transport serves it. */
export interface GrpcEdge {
  addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void;
  /** Binds `host:port` (port 0: any free one) or `unix:path`; resolves to the bound port. */
  listen(address: string): Promise<number>;
  setServing(serving: boolean): void;
  shutdown(graceMs: number, onForced?: () => void): Promise<void>;
}

export const GRPC_TRANSPORTS = ["h2", "grpc-js"] as const;
export type GrpcTransportKind = (typeof GRPC_TRANSPORTS)[number];
export const DEFAULT_GRPC_TRANSPORT: GrpcTransportKind = "h2";

/** The setting in both servers' schemas. */
export const grpcTransportConfigShape = {
  WARDEN_GRPC_TRANSPORT: z
    .enum(GRPC_TRANSPORTS)
    .default(DEFAULT_GRPC_TRANSPORT)
    .describe(
      'How the gRPC server is served: `h2`, a lean gRPC server on node:http2 (lib/src/grpc-h2/), or `grpc-js`, the @grpc/grpc-js server (the fallback). Same services, health, mTLS and SPIFFE peer checks either way. docs/benchmarks.md, "gRPC transport".',
    ),
};

/** How one of our servers is reached: the transport and, with SPIRE, its mTLS (serverMtlsFromConfig). */
export interface EdgeTransport {
  kind?: GrpcTransportKind;
  mtls?: ServerMtls;
}

/** The gRPC server for `serviceName` on the chosen transport (health NOT_SERVING until told). */
export function createGrpcEdge(
  serviceName: string,
  maxReceiveMessageBytes: number,
  transport: EdgeTransport = {},
): GrpcEdge {
  const { mtls } = transport;
  if ((transport.kind ?? DEFAULT_GRPC_TRANSPORT) === "h2")
    return new H2GrpcServer(
      serviceName,
      maxReceiveMessageBytes,
      mtls && { provider: mtls.svid.provider, allowed: mtls.allowed, onRefused: mtls.onRefused },
    );
  return new GrpcServer(serviceName, maxReceiveMessageBytes, {
    credentials: mtls?.credentials,
    interceptors: mtls?.interceptors,
  });
}
