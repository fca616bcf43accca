/**
 * extproc-server as a real process, driven over a real gRPC connection the way Envoy drives it:
 * one bidirectional Process stream per HTTP exchange. (The full Envoy round trip is the sidecar e2e.)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Client, credentials } from "@grpc/grpc-js";
import {
  authzMetadata,
  readImmediate,
  readMutation,
  requestHeadersRequest,
  responseBodyRequest,
  responseHeadersRequest,
  SAMPLE_HANDOFF,
} from "../../extproc-server/src/testing/envoy-messages.js";
import { ExchangeStream, healthCheck } from "../../extproc-server/src/testing/exchange-client.js";
import {
  freePort,
  REPO_ROOT,
  startProcess,
  stopAll,
  waitFor,
  type ManagedProcess,
  TEARDOWN_TIMEOUT_MS,
} from "../harness/process.js";

const MAIN = join(REPO_ROOT, "dist/extproc-server/src/main.js");
// ESM jest has no global `jest.setTimeout`: limits are given per hook and per test.
const START_TIMEOUT_MS = 30_000;

interface Running {
  process: ManagedProcess;
  address: string;
  client: Client;
}

async function startExtproc(name: string, env: Record<string, string> = {}): Promise<Running> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const child = startProcess({
    name,
    command: process.execPath,
    args: [MAIN],
    env: { WARDEN_EXTPROC_LISTEN: address, WARDEN_LOG_LEVEL: "debug", ...env },
  });
  // By port, not by log line: the harness truncates the log asynchronously, so a previous run's
  // "listening" line can still be there for a moment.
  await child.waitForPort(port);
  return { process: child, address, client: new Client(address, credentials.createInsecure()) };
}

const AGENT_REQUEST = {
  ":method": "POST",
  ":path": "/openai/v1/chat/completions",
  ":authority": "127.0.0.1:10000",
  "content-type": "application/json",
  authorization: "Bearer sk-agent-should-not-hold-this",
  "x-api-key": "k-1",
  cookie: "session=abc",
  "x-warden-decision-id": "forged",
};

afterAll(stopAll, TEARDOWN_TIMEOUT_MS);

describe("extproc-server over gRPC", () => {
  let server: Running;

  beforeAll(async () => {
    server = await startExtproc("extproc-grpc");
  }, START_TIMEOUT_MS);
  afterAll(() => server.client.close(), TEARDOWN_TIMEOUT_MS);

  test("reports SERVING on the gRPC health service", async () => {
    expect(await healthCheck(server.client, "")).toBe("SERVING");
    expect(await healthCheck(server.client, "envoy.service.ext_proc.v3.ExternalProcessor")).toBe("SERVING");
  });

  test("request headers come back with the agent's credentials removed and the decision stamped on", async () => {
    const stream = ExchangeStream.open(server.client);
    const reply = await stream.send(requestHeadersRequest(AGENT_REQUEST));
    const mutation = readMutation(reply.requestHeaders?.response?.headerMutation);
    expect(mutation.remove.sort()).toEqual(["authorization", "cookie", "x-api-key"]);
    expect(mutation.set).toEqual({
      "x-warden-decision-id": SAMPLE_HANDOFF.decision_id,
      "x-warden-agent": SAMPLE_HANDOFF.agent_spiffe_id,
    });
    expect(mutation.plainValues).toEqual([]);
    expect((await stream.close()).code).toBe(0);
  });

  test("a request that ext_authz never saw is refused at once with a JSON 403", async () => {
    const stream = ExchangeStream.open(server.client);
    const reply = await stream.send(requestHeadersRequest(AGENT_REQUEST, { metadata: null }));
    const refusal = readImmediate(reply);
    expect(refusal?.status).toBe(403);
    expect(refusal?.headers["content-type"]).toBe("application/json");
    expect(refusal?.body).toEqual({
      error: {
        code: "forbidden",
        message: expect.any(String),
        decision_id: refusal?.headers["x-warden-decision-id"],
      },
    });
    await stream.close();
  });

  test("an SSE response is switched to a streamed body and every chunk passes unchanged at once", async () => {
    const stream = ExchangeStream.open(server.client);
    await stream.send(requestHeadersRequest(AGENT_REQUEST));
    const headers = await stream.send(
      responseHeadersRequest({ ":status": "200", "content-type": "text/event-stream", "set-cookie": "t=1" }),
    );
    expect(headers.modeOverride?.responseBodyMode).toBe(1); // STREAMED
    expect(readMutation(headers.responseHeaders?.response?.headerMutation).remove).toEqual(["set-cookie"]);

    const roundTripsMs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const started = process.hrtime.bigint();
      const reply = await stream.send(responseBodyRequest(`data: {"i":${i}}\n\n`, i === 49));
      roundTripsMs.push(Number(process.hrtime.bigint() - started) / 1e6);
      expect(reply.response).toBe("responseBody");
      expect(reply.responseBody?.response).toBeNull(); // no body mutation: the chunk goes on as it came
    }
    roundTripsMs.sort((a, b) => a - b);
    // NFR-PERF-3: under 10 ms added per chunk.
    expect(roundTripsMs[Math.floor(roundTripsMs.length / 2)]).toBeLessThan(10);
    expect((await stream.close()).code).toBe(0);
  });

  test("a plain JSON response asks for no body phase", async () => {
    const stream = ExchangeStream.open(server.client);
    await stream.send(requestHeadersRequest(AGENT_REQUEST));
    const reply = await stream.send(
      responseHeadersRequest({ ":status": "200", "content-type": "application/json" }),
    );
    expect(reply.response).toBe("responseHeaders");
    expect(reply.modeOverride).toBeNull();
    await stream.close();
  });

  test("concurrent exchanges never see each other's decision", async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `dec-concurrent-${i}`);
    const stamped = await Promise.all(
      ids.map(async (decisionId) => {
        const stream = ExchangeStream.open(server.client);
        const reply = await stream.send(
          requestHeadersRequest(AGENT_REQUEST, {
            metadata: authzMetadata({ ...SAMPLE_HANDOFF, decision_id: decisionId }),
          }),
        );
        await stream.close();
        return readMutation(reply.requestHeaders?.response?.headerMutation).set["x-warden-decision-id"];
      }),
    );
    expect(stamped).toEqual(ids);
  });

  test("garbage frames get a JSON error and the server keeps serving", async () => {
    for (const garbage of [
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
      Buffer.from("GET / HTTP/1.1\r\n\r\n"),
    ]) {
      const stream = ExchangeStream.openRaw(server.client);
      const reply = await stream.send(garbage);
      expect(readImmediate(reply)?.status).toBe(500);
      await stream.close();
    }
    expect(server.process.running).toBe(true);
    expect(await healthCheck(server.client, "")).toBe("SERVING");
    const stream = ExchangeStream.open(server.client);
    const reply = await stream.send(requestHeadersRequest(AGENT_REQUEST));
    expect(readMutation(reply.requestHeaders?.response?.headerMutation).set["x-warden-decision-id"]).toBe(
      SAMPLE_HANDOFF.decision_id,
    );
    await stream.close();
  });
});

describe("extproc-server protocol order", () => {
  let server: Running;

  beforeAll(async () => {
    server = await startExtproc("extproc-grpc-order");
  }, START_TIMEOUT_MS);
  afterAll(() => server.client.close(), TEARDOWN_TIMEOUT_MS);

  test("a second request_headers on one stream (naming another tenant) ends the stream with an error", async () => {
    const stream = ExchangeStream.open(server.client);
    await stream.send(requestHeadersRequest(AGENT_REQUEST));
    stream.write(
      requestHeadersRequest(AGENT_REQUEST, {
        metadata: authzMetadata({ ...SAMPLE_HANDOFF, tenant: "other-tenant", decision_id: "dec-second" }),
      }),
    );
    const status = await stream.status;
    expect(status.code).toBe(9); // FAILED_PRECONDITION
    // stdout is written asynchronously (lib/src/logger.ts): the line may follow the status.
    await waitFor("the protocol violation logged", () => server.process.log().includes("protocol violation"));
    expect(await healthCheck(server.client, "")).toBe("SERVING");
  });

  test("response phases before request headers: a body before its headers ends the stream", async () => {
    const stream = ExchangeStream.open(server.client);
    stream.write(responseBodyRequest("data: x\n\n"));
    expect((await stream.status).code).toBe(9);
  });
});

describe("extproc-server start-up", () => {
  test("with Vault configured and no SPIFFE mTLS it refuses to start (exit 78), naming the fix", async () => {
    const child = startProcess({
      name: "extproc-grpc-plaintext-vault",
      command: process.execPath,
      args: [MAIN],
      env: {
        WARDEN_EXTPROC_LISTEN: `127.0.0.1:${await freePort()}`,
        SPIFFE_ENDPOINT_SOCKET: "",
        WARDEN_SPIFFE_SOCKET: "",
        VAULT_ADDR: "https://127.0.0.1:8200",
        WARDEN_VAULT_CLIENT_CERT: "/nonexistent/cert.pem",
        WARDEN_VAULT_CLIENT_KEY: "/nonexistent/key.pem",
      },
    });
    expect(await child.waitForExit()).toBe(78);
    expect(child.log()).toContain("SPIFFE_ENDPOINT_SOCKET");
    expect(child.log()).toContain("WARDEN_INSECURE_DEV_PLAINTEXT");
  }, 30_000);
});

describe("extproc-server on several processes (WARDEN_WORKERS)", () => {
  test("a value that is not a number of processes stops it before it forks (exit 78), naming the variable", async () => {
    const child = startProcess({
      name: "extproc-grpc-workers-bad",
      command: process.execPath,
      args: [MAIN],
      env: { WARDEN_EXTPROC_LISTEN: `127.0.0.1:${await freePort()}`, WARDEN_WORKERS: "two" },
    });
    expect(await child.waitForExit()).toBe(78);
    expect(child.log()).toContain('WARDEN_WORKERS: must be a whole number from 1 to 64, or "auto"');
    expect(child.log()).not.toContain("worker processes");
  }, 30_000);

  test("WARDEN_WORKERS=2: two processes serve the one port, and SIGTERM stops them all with exit 0", async () => {
    const server = await startExtproc("extproc-grpc-workers-2", { WARDEN_WORKERS: "2" });
    const listening = () =>
      server.process
        .log()
        .split("\n")
        .filter((line) => line.includes('"extproc-server listening"'));
    await waitFor("both worker processes listening", () => listening().length === 2);
    expect(server.process.log()).toContain("serving on 2 worker processes");
    const second = new Client(server.address, credentials.createInsecure());
    expect(await healthCheck(server.client, "")).toBe("SERVING");
    expect(await healthCheck(second, "")).toBe("SERVING");
    second.close();
    server.client.close();
    server.process.child.kill("SIGTERM");
    expect(await server.process.waitForExit()).toBe(0);
  }, 60_000);
});

describe("extproc-server shutdown", () => {
  test("SIGTERM lets an exchange in flight finish, then the process exits 0", async () => {
    const server = await startExtproc("extproc-grpc-drain", { WARDEN_SHUTDOWN_GRACE_MS: "20000" });
    const stream = ExchangeStream.open(server.client);
    await stream.send(requestHeadersRequest(AGENT_REQUEST));

    server.process.child.kill("SIGTERM");
    await waitFor("extproc-server to stop reporting SERVING", async () => {
      try {
        return (await healthCheck(server.client, "")) !== "SERVING";
      } catch {
        return true; // no new calls accepted any more
      }
    });

    // The exchange still in flight is still answered (its response arrives after the signal)...
    const reply = await stream.send(
      responseHeadersRequest({ ":status": "200", "content-type": "text/event-stream" }),
    );
    expect(reply.modeOverride?.responseBodyMode).toBe(1);
    expect((await stream.send(responseBodyRequest("data: late chunk\n\n"))).response).toBe("responseBody");
    expect(server.process.running).toBe(true);

    // ...and once it ends, the process exits cleanly.
    expect((await stream.close()).code).toBe(0);
    expect(await server.process.waitForExit()).toBe(0);
    expect(server.process.log()).toMatch(/extproc-server draining[\s\S]*extproc-server stopped/);
    server.client.close();
  }, 60_000);
});
