import { Client, credentials } from "@grpc/grpc-js";
import { createLogger } from "../../lib/src/logger.js";
import type { Provider } from "./providers.js";
import { ExtProcServer } from "./server.js";
import {
  requestHeadersRequest,
  responseBodyRequest,
  responseHeadersRequest,
} from "./testing/envoy-messages.js";
import { ExchangeStream } from "./testing/exchange-client.js";

// The gRPC shell in-process, over a real loopback connection: ordering and stream lifecycle.
const logger = createLogger("extproc-test", "silent");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function serve(providers: Provider[]): Promise<{ server: ExtProcServer; client: Client }> {
  const server = new ExtProcServer({ logger, providers });
  const port = await server.listen("127.0.0.1:0");
  return { server, client: new Client(`127.0.0.1:${port}`, credentials.createInsecure()) };
}

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(10);
}

describe("the ext_proc gRPC shell", () => {
  test("pipelined chunks are answered in the order they came, even when early ones take longer", async () => {
    // The first chunk's hook is the slowest; a naive server would answer chunk 5 first.
    const delays = [40, 20, 0, 10, 0];
    let call = 0;
    const { server, client } = await serve([
      {
        name: "slow-scrubber",
        attach: () => ({
          onResponseBody: async (chunk) => {
            await sleep(delays[call++] ?? 0);
            return Buffer.from(`seen:${Buffer.from(chunk).toString()}`);
          },
        }),
      },
    ]);
    try {
      const stream = ExchangeStream.open(client);
      await stream.send(requestHeadersRequest({ ":path": "/" }));
      await stream.send(responseHeadersRequest({ "content-type": "text/event-stream" }));
      for (let i = 1; i <= 5; i++) stream.write(responseBodyRequest(`chunk-${i}`, i === 5));
      const bodies: string[] = [];
      for (let i = 1; i <= 5; i++) {
        const reply = await stream.nextReply();
        bodies.push(Buffer.from(reply.responseBody?.response?.bodyMutation?.body ?? []).toString());
      }
      expect(bodies).toEqual([
        "seen:chunk-1",
        "seen:chunk-2",
        "seen:chunk-3",
        "seen:chunk-4",
        "seen:chunk-5",
      ]);
      expect((await stream.close()).code).toBe(0);
    } finally {
      client.close();
      await server.shutdown(1_000);
    }
  });

  test("a stream Envoy cancels ends the exchange for providers, once, and is no longer counted", async () => {
    let ends = 0;
    const { server, client } = await serve([
      {
        name: "usage",
        attach: () => ({
          onEnd: () => {
            ends++;
            throw new Error("a provider bug on end must not take the server down");
          },
        }),
      },
    ]);
    try {
      const stream = ExchangeStream.open(client);
      await stream.send(requestHeadersRequest({ ":path": "/" }));
      expect(server.openStreams).toBe(1);
      stream.cancel();
      await waitUntil(() => server.openStreams === 0);
      expect(server.openStreams).toBe(0);
      expect(ends).toBe(1);
      // Still serving.
      const next = ExchangeStream.open(client);
      expect((await next.send(requestHeadersRequest({ ":path": "/" }))).response).toBe("requestHeaders");
      await next.close();
    } finally {
      client.close();
      await server.shutdown(1_000);
    }
  });
});
