import {
  Server,
  ServerCredentials,
  type ServerInterceptor,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";

/** How a server is reached: both come from serverMtlsFromConfig (lib/src/spiffe/grpc-mtls.ts). */
export interface GrpcTransport {
  /** Without them: plaintext, for loopback (dev and the plaintext tests). */
  credentials?: ServerCredentials;
  /** e.g. allowOnlySpiffeIds: only Envoy may call (mTLS with SPIRE). */
  interceptors?: ServerInterceptor[];
}

/**
 * What authz-server and extproc-server share at their gRPC edge: the server with its options, the
 * health service (NOT_SERVING until told otherwise), binding to TCP or a Unix socket, and the drain on
 * shutdown. Each server adds its own service and decides when it is serving.
 */
export class GrpcServer {
  private readonly server: Server;
  private readonly health: HealthImplementation;

  /**
   * @param serviceName the service the health check reports on, besides "" (the server as a whole)
   * @param maxReceiveMessageBytes the largest message a client may send
   */
  constructor(
    private readonly serviceName: string,
    maxReceiveMessageBytes: number,
    private readonly transport: GrpcTransport = {},
  ) {
    this.server = new Server({
      "grpc.max_receive_message_length": maxReceiveMessageBytes,
      "grpc.keepalive_permit_without_calls": 1,
      interceptors: transport.interceptors ?? [],
    });
    this.health = new HealthImplementation({ "": "NOT_SERVING", [serviceName]: "NOT_SERVING" });
    this.health.addToServer(this.server);
  }

  addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    this.server.addService(service, implementation);
  }

  /** Binds `host:port` (port 0: any free one) or `unix:path`; resolves to the bound port. */
  listen(
    address: string,
    credentials: ServerCredentials = this.transport.credentials ?? ServerCredentials.createInsecure(),
  ): Promise<number> {
    return new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port))),
    );
  }

  setServing(serving: boolean): void {
    const status = serving ? "SERVING" : "NOT_SERVING";
    this.health.setStatus("", status);
    this.health.setStatus(this.serviceName, status);
  }

  /**
   * Health turns NOT_SERVING, no new call is taken and calls in flight may finish for up to `graceMs`;
   * then the rest are cut (`onForced` runs first, e.g. to say how many).
   */
  async shutdown(graceMs: number, onForced?: () => void): Promise<void> {
    this.setServing(false);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        onForced?.();
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
