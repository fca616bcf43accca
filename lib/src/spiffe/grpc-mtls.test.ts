import { jest } from "@jest/globals";
import {
  credentials,
  makeGenericClientConstructor,
  ServerCredentials,
  status as GrpcStatus,
  type Client,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { TLSSocket } from "node:tls";
import { GrpcServer } from "../grpc-server/grpc-server.js";
import { allowOnlySpiffeIds } from "./grpc-mtls.js";
import { makeCertificate, makeSvidCertificate, type TestCertificate } from "./testing/certificates.js";

const ENVOY = "spiffe://warden.local/warden/envoy";
const INTRUDER = "spiffe://warden.local/warden/intruder";

const HealthClient = makeGenericClientConstructor(healthService, "grpc.health.v1.Health");
type HealthCheck = Client & {
  check(request: { service: string }, callback: (error: ServiceError | null) => void): void;
};

const ca = makeCertificate({ subject: "/O=SPIRE/CN=test root", ca: true });
const serverCert = makeSvidCertificate("spiffe://warden.local/warden/authz", ca, { dnsNames: ["localhost"] });
const envoyCert = makeSvidCertificate(ENVOY, ca);
const intruderCert = makeSvidCertificate(INTRUDER, ca);

let server: GrpcServer;
let port: number;
const refused: (string | null)[] = [];

beforeAll(async () => {
  server = new GrpcServer("test.Service", 1024, {
    credentials: ServerCredentials.createSsl(
      Buffer.from(ca.certPem),
      [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(serverCert.keyPem) }],
      true,
    ),
    interceptors: [allowOnlySpiffeIds(new Set([ENVOY]), (peer) => refused.push(peer))],
  });
  port = await server.listen("127.0.0.1:0");
  server.setServing(true);
});

afterAll(() => server.shutdown(1_000));

/** A client on a connection of its own, presenting `cert`. */
function clientWith(cert: TestCertificate): HealthCheck {
  return new HealthClient(
    `127.0.0.1:${port}`,
    credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.certPem)),
    { "grpc.ssl_target_name_override": "localhost", "grpc.use_local_subchannel_pool": 1 },
  ) as unknown as HealthCheck;
}

/** The call's gRPC status code and details (0 when it went through). */
function call(client: HealthCheck): Promise<{ code: number; details: string }> {
  return new Promise((resolve) =>
    client.check({ service: "" }, (error) =>
      resolve({ code: error?.code ?? GrpcStatus.OK, details: error?.details ?? "" }),
    ),
  );
}

/** Node's own flag for the accepting side of a TLS connection. */
function isServerSide(socket: unknown): boolean {
  const options: unknown = Reflect.get(socket as object, "_tlsOptions");
  return typeof options === "object" && options !== null && Reflect.get(options, "isServer") === true;
}

describe("only the allowed SPIFFE IDs may call, judged per connection", () => {
  it("two open connections with different certificates are each judged by their own, however calls interleave", async () => {
    const envoy = clientWith(envoyCert);
    const intruder = clientWith(intruderCert);
    try {
      for (let round = 0; round < 3; round++) {
        const [fromEnvoy, fromIntruder] = await Promise.all([call(envoy), call(intruder)]);
        expect(fromEnvoy.code).toBe(GrpcStatus.OK);
        expect(fromIntruder).toEqual({
          code: GrpcStatus.PERMISSION_DENIED,
          details: `${INTRUDER} may not call this service`,
        });
      }
      expect(refused).toContain(INTRUDER);
      expect(refused).not.toContain(ENVOY);
    } finally {
      envoy.close();
      intruder.close();
    }
  });

  it("a refused caller's connection closing does not let the next connection through, and the reverse", async () => {
    const intruder = clientWith(intruderCert);
    expect((await call(intruder)).code).toBe(GrpcStatus.PERMISSION_DENIED);
    intruder.close();
    const envoy = clientWith(envoyCert);
    expect((await call(envoy)).code).toBe(GrpcStatus.OK);
    envoy.close();
    const again = clientWith(intruderCert);
    expect((await call(again)).code).toBe(GrpcStatus.PERMISSION_DENIED);
    again.close();
  });

  it("reads the peer certificate once per connection, not once per call", async () => {
    const reads = jest.spyOn(TLSSocket.prototype, "getPeerCertificate");
    // The clients run in this process too and read the server's certificate: count the server's reads.
    const serverReads = () => reads.mock.contexts.filter((socket) => isServerSide(socket)).length;
    try {
      const envoy = clientWith(envoyCert);
      for (let i = 0; i < 5; i++) expect((await call(envoy)).code).toBe(GrpcStatus.OK);
      expect(serverReads()).toBe(1);
      const second = clientWith(envoyCert);
      expect((await call(second)).code).toBe(GrpcStatus.OK);
      expect(serverReads()).toBe(2);
      envoy.close();
      second.close();
    } finally {
      reads.mockRestore();
    }
  });
});
