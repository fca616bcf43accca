import {
  credentials,
  makeGenericClientConstructor,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService, type ServingStatus } from "grpc-health-check";
import { GrpcServer } from "./grpc-server.js";

const HealthClient = makeGenericClientConstructor(healthService, "grpc.health.v1.Health");
type HealthCheck = Client & {
  check(
    request: { service: string },
    callback: (error: ServiceError | null, response?: { status?: ServingStatus }) => void,
  ): void;
};

function health(port: number, service: string): Promise<ServingStatus | undefined> {
  const client = new HealthClient(
    `127.0.0.1:${port}`,
    credentials.createInsecure(),
  ) as unknown as HealthCheck;
  return new Promise((resolve, reject) =>
    client.check({ service }, (error, response) => {
      client.close();
      if (error) reject(error);
      else resolve(response?.status);
    }),
  );
}

const bytes = { serialize: (value: Buffer) => value, deserialize: (value: Buffer) => value };
const HangService = {
  hang: {
    path: "/test.Hang/Hang",
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
  },
} satisfies ServiceDefinition;

test("health says NOT_SERVING until the server is told it serves, for the server and its service", async () => {
  const server = new GrpcServer("test.Hang", 1024);
  const port = await server.listen("127.0.0.1:0");
  try {
    expect(await health(port, "")).toBe("NOT_SERVING");
    server.setServing(true);
    expect(await health(port, "")).toBe("SERVING");
    expect(await health(port, "test.Hang")).toBe("SERVING");
  } finally {
    await server.shutdown(1_000);
  }
});

test("a call still open when the grace ends is cut, after onForced, and shutdown resolves", async () => {
  const server = new GrpcServer("test.Hang", 1024);
  let started!: () => void;
  const inFlight = new Promise<void>((resolve) => (started = resolve));
  server.addService(HangService, { hang: () => started() });
  const port = await server.listen("127.0.0.1:0");
  const HangClient = makeGenericClientConstructor(HangService, "test.Hang");
  const client = new HangClient(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client & {
    hang(request: Buffer, callback: (error: ServiceError | null) => void): void;
  };
  const ended = new Promise<ServiceError | null>((resolve) => client.hang(Buffer.alloc(0), resolve));
  await inFlight;
  let forced = 0;
  const begun = Date.now();
  await server.shutdown(100, () => forced++);
  expect(forced).toBe(1);
  expect(Date.now() - begun).toBeGreaterThanOrEqual(90);
  expect((await ended)?.code).toBeDefined();
  client.close();
});
