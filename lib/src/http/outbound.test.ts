import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, loadConfig } from "../config.js";
import {
  createOutboundClient,
  isNonPublicAddress,
  OutboundError,
  outboundConfigShape,
  outboundPolicyFrom,
  type OutboundClient,
} from "./outbound.js";

let server: Server;
let base: string;
const seen: string[] = [];
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end("{}");

const client = (max = 1024, hosts = ["127.0.0.1"]): OutboundClient =>
  createOutboundClient({ maxResponseBytes: max, allowedPrivateHosts: new Set(hosts) });

async function failureOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OutboundError) return error.failure;
    throw error;
  }
  return "none";
}

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test("a redirect is an error and is never followed", async () => {
  handler = (req, res) => {
    if (req.url === "/token") res.writeHead(307, { location: `${base}/elsewhere` }).end();
    else res.end("{}");
  };
  seen.length = 0;
  const failure = await failureOf(
    client().request({ method: "POST", url: `${base}/token`, body: "client_secret=s", timeoutMs: 2000 }),
  );
  expect(failure).toBe("redirect");
  expect(seen).toEqual(["POST /token"]);
});

test("an answer larger than the limit is cut off, declared or streamed", async () => {
  handler = (req, res) => {
    if (req.url === "/declared") res.writeHead(200, { "content-length": "5000" }).end("x".repeat(5000));
    else {
      res.writeHead(200);
      const chunk = "y".repeat(512);
      for (let i = 0; i < 20; i++) res.write(chunk);
      res.end();
    }
  };
  expect(await failureOf(client().request({ method: "GET", url: `${base}/declared`, timeoutMs: 2000 }))).toBe(
    "too_large",
  );
  expect(await failureOf(client().request({ method: "GET", url: `${base}/chunked`, timeoutMs: 2000 }))).toBe(
    "too_large",
  );
  const ok = await client(20_000).request({ method: "GET", url: `${base}/chunked`, timeoutMs: 2000 });
  expect(ok.body.length).toBe(10_240);
});

test("a slow answer times out", async () => {
  handler = (_req, res) => setTimeout(() => res.end("{}"), 500);
  expect(await failureOf(client().request({ method: "GET", url: `${base}/slow`, timeoutMs: 100 }))).toBe(
    "timeout",
  );
});

test("loopback and private targets are refused unless their host is allowed", async () => {
  handler = (_req, res) => res.end("{}");
  const port = (server.address() as AddressInfo).port;
  seen.length = 0;
  for (const url of [
    `http://127.0.0.2:${port}/x`,
    `http://localhost:${port}/x`,
    "http://10.1.2.3/x",
    "http://[::1]:1/",
  ])
    expect(await failureOf(client().request({ method: "GET", url, timeoutMs: 500 }))).toBe(
      "forbidden_target",
    );
  expect(seen).toEqual([]);
  expect((await client().request({ method: "GET", url: `${base}/x`, timeoutMs: 2000 })).status).toBe(200);
});

test("non-public addresses", () => {
  for (const a of [
    "127.0.0.1",
    "10.0.0.1",
    "172.16.3.4",
    "192.168.1.1",
    "169.254.169.254",
    "::1",
    "fd00::1",
    "::ffff:127.0.0.1",
    "100.64.0.1",
  ])
    expect(isNonPublicAddress(a)).toBe(true);
  for (const a of ["8.8.8.8", "142.250.0.1", "2607:f8b0::1"]) expect(isNonPublicAddress(a)).toBe(false);
});

test("the allow-list is validated at start-up", () => {
  const ok = loadConfig(outboundConfigShape, { WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: "127.0.0.1, LocalHost" });
  expect(outboundPolicyFrom(ok).allowedPrivateHosts).toEqual(new Set(["127.0.0.1", "localhost"]));
  expect(() => loadConfig(outboundConfigShape, { WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS: "http://x/" })).toThrow(
    ConfigError,
  );
});
