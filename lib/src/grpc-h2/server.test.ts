import { Client, credentials, type ServiceDefinition } from "@grpc/grpc-js";
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { connect as tcpConnect } from "node:net";
import type { DuplexCall, UnaryCall, UnaryCallback } from "../grpc-server/calls.js";
import { frameMessage, MessageDeframer } from "./framing.js";
import { H2GrpcServer } from "./server.js";
import { decodeGrpcMessage, Status } from "./status.js";

const bytes = (buffer: Buffer) => buffer;
const method = (path: string, streaming: boolean) => ({
  path,
  requestStream: streaming,
  responseStream: streaming,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
});
const TEST_SERVICE = {
  unary: method("/test.Echo/Unary", false),
  bidi: method("/test.Echo/Bidi", true),
} satisfies ServiceDefinition;

interface Seen {
  cancelled: number;
  ended: number;
  /** Messages the stream handler has been given. */
  received: number;
}

/** Echo service: "fail:<msg>" answers that status message; "hang" never answers. */
async function startServer(
  maxBytes = 64 * 1024,
): Promise<{ server: H2GrpcServer; port: number; seen: Seen }> {
  const seen: Seen = { cancelled: 0, ended: 0, received: 0 };
  const server = new H2GrpcServer("test.Echo", maxBytes);
  server.addService(TEST_SERVICE, {
    unary: (call: UnaryCall<Buffer>, callback: UnaryCallback<Buffer>) => {
      const text = call.request.toString();
      if (text === "hang") return;
      if (text === "throw") throw new Error("handler bug");
      if (text.startsWith("fail:")) callback({ code: Status.FAILED_PRECONDITION, details: text.slice(5) });
      else callback(null, Buffer.from(`echo ${text}`));
    },
    bidi: (call: DuplexCall<Buffer, Buffer>) => {
      call.on("data", (message) => {
        seen.received++;
        const text = message.toString();
        if (text === "hang") return;
        if (text.startsWith("big:")) {
          call.write(Buffer.alloc(Number(text.slice(4)) * 1024, 0x61));
          return;
        }
        if (text.startsWith("fail:"))
          call.emit("error", { code: Status.FAILED_PRECONDITION, details: text.slice(5) });
        else call.write(Buffer.from(`echo ${text}`));
      });
      call.on("end", () => {
        seen.ended++;
        call.end();
      });
      call.on("cancelled", () => seen.cancelled++);
    },
  });
  const port = await server.listen("127.0.0.1:0");
  server.setServing(true);
  return { server, port, seen };
}

interface Answer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  messages: string[];
  /** grpc-status from the trailers, or from the headers of a trailers-only answer. */
  status: number;
  message: string;
}

function call(
  session: ClientHttp2Session,
  path: string,
  chunks: Buffer[],
  extraHeaders: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...extraHeaders,
    });
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const deframer = new MessageDeframer(1 << 20);
    const messages: string[] = [];
    request.on("response", (h) => (headers = h));
    request.on("trailers", (t) => (trailers = t));
    request.on("data", (chunk: Buffer) => {
      const out = deframer.push(chunk);
      if (Array.isArray(out)) messages.push(...out.map((m) => m.toString()));
    });
    request.on("error", reject);
    request.on("close", () => {
      const source = trailers["grpc-status"] !== undefined ? trailers : headers;
      resolve({
        headers,
        trailers,
        messages,
        status: Number(source["grpc-status"]),
        message: decodeGrpcMessage(String(source["grpc-message"] ?? "")),
      });
    });
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

const msg = (text: string) => frameMessage(Buffer.from(text));

describe("the node:http2 gRPC transport", () => {
  let server: H2GrpcServer;
  let port: number;
  let seen: Seen;
  let session: ClientHttp2Session;

  beforeEach(async () => {
    ({ server, port, seen } = await startServer());
    session = connect(`http://127.0.0.1:${port}`);
  });
  afterEach(async () => {
    session.destroy();
    await server.shutdown(100);
  });

  it("answers a unary call with the response and grpc-status 0 in trailers", async () => {
    const answer = await call(session, "/test.Echo/Unary", [msg("hi")]);
    expect(answer.headers[":status"]).toBe(200);
    expect(answer.headers["content-type"]).toBe("application/grpc");
    expect(answer.messages).toEqual(["echo hi"]);
    expect(answer.trailers["grpc-status"]).toBe("0");
  });

  it("reads a request split over many DATA frames, and several messages from one", async () => {
    const wire = msg("split request");
    const pieces = [...wire].map((byte) => Buffer.from([byte]));
    expect((await call(session, "/test.Echo/Unary", pieces)).messages).toEqual(["echo split request"]);
    const bidi = await call(session, "/test.Echo/Bidi", [Buffer.concat([msg("a"), msg("b"), msg("c")])]);
    expect(bidi.messages).toEqual(["echo a", "echo b", "echo c"]);
    expect(bidi.status).toBe(Status.OK);
    expect(seen.ended).toBe(1);
  });

  it("sends a handler's error as trailers-only, the message percent-encoded", async () => {
    const answer = await call(session, "/test.Echo/Unary", [msg("fail:100% wrong\né")]);
    expect(answer.headers["grpc-status"]).toBe(String(Status.FAILED_PRECONDITION));
    expect(answer.headers["grpc-message"]).toBe("100%25 wrong%0A%C3%A9");
    expect(answer.message).toBe("100% wrong\né");
    expect(answer.messages).toEqual([]);
  });

  it("ends a stream with the status its handler emits, after the replies already sent", async () => {
    const answer = await call(session, "/test.Echo/Bidi", [msg("one"), msg("fail:out of order")]);
    expect(answer.messages).toEqual(["echo one"]);
    expect(answer.trailers["grpc-status"]).toBe(String(Status.FAILED_PRECONDITION));
    expect(answer.message).toBe("out of order");
  });

  it("answers UNKNOWN when a handler throws, and keeps serving", async () => {
    expect((await call(session, "/test.Echo/Unary", [msg("throw")])).status).toBe(Status.UNKNOWN);
    expect((await call(session, "/test.Echo/Unary", [msg("after")])).messages).toEqual(["echo after"]);
  });

  it("refuses unknown methods, compressed and oversized messages, and unary calls without one message", async () => {
    expect((await call(session, "/test.Echo/Nope", [msg("x")])).status).toBe(Status.UNIMPLEMENTED);
    const compressed = msg("zip");
    compressed[0] = 1;
    expect((await call(session, "/test.Echo/Unary", [compressed])).status).toBe(Status.UNIMPLEMENTED);
    expect((await call(session, "/test.Echo/Bidi", [msg("x".repeat(70_000))])).status).toBe(
      Status.RESOURCE_EXHAUSTED,
    );
    expect((await call(session, "/test.Echo/Unary", [])).status).toBe(Status.UNIMPLEMENTED);
    expect((await call(session, "/test.Echo/Unary", [msg("a"), msg("b")])).status).toBe(Status.UNIMPLEMENTED);
    expect((await call(session, "/test.Echo/Unary", [msg("whole").subarray(0, 6)])).status).toBe(
      Status.UNIMPLEMENTED,
    );
  });

  it("ends a call at its grpc-timeout with DEADLINE_EXCEEDED, and the stream handler sees it cancelled", async () => {
    const started = Date.now();
    const unary = await call(session, "/test.Echo/Unary", [msg("hang")], { "grpc-timeout": "50m" });
    expect(unary.status).toBe(Status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2_000);
    const request = session.request({
      ":method": "POST",
      ":path": "/test.Echo/Bidi",
      "content-type": "application/grpc",
      "grpc-timeout": "50m",
    });
    request.write(msg("hang"));
    const trailers = await new Promise<IncomingHttpHeaders>((resolve) =>
      request.on("response", (headers) => resolve(headers)),
    );
    expect(trailers["grpc-status"]).toBe(String(Status.DEADLINE_EXCEEDED));
    request.destroy();
    expect(seen.cancelled).toBe(1);
  });

  it("tells the stream handler when the client resets the stream", async () => {
    const request = session.request({
      ":method": "POST",
      ":path": "/test.Echo/Bidi",
      "content-type": "application/grpc",
    });
    request.write(msg("first"));
    await new Promise((resolve) => request.once("data", resolve));
    request.close(8); // RST_STREAM CANCEL
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.cancelled).toBe(1);
  });

  it("stops reading a stream while its client does not read the replies, and catches up after", async () => {
    const request = session.request({
      ":method": "POST",
      ":path": "/test.Echo/Bidi",
      "content-type": "application/grpc",
    });
    const total = 200; // 200 replies of 64 KiB: far more than the windows and buffers hold
    for (let i = 0; i < total; i++) request.write(msg("big:64"));
    request.end();
    request.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen.received).toBeLessThan(total / 2);
    const deframer = new MessageDeframer(1 << 20);
    let replies = 0;
    request.on("data", (chunk: Buffer) => {
      const out = deframer.push(chunk);
      if (Array.isArray(out)) replies += out.length;
    });
    const trailers = new Promise<IncomingHttpHeaders>((resolve) => request.on("trailers", resolve));
    request.resume();
    expect((await trailers)["grpc-status"]).toBe("0");
    expect(replies).toBe(total);
    expect(seen.received).toBe(total);
  });

  it("answers plain HTTP requests with an HTTP error, not a gRPC call", async () => {
    const status = (headers: Record<string, string>) =>
      new Promise<number | undefined>((resolve) => {
        const request = session.request(headers);
        request.on("response", (h) => resolve(h[":status"]));
        request.on("error", () => resolve(undefined));
        request.end();
      });
    expect(await status({ ":method": "GET", ":path": "/test.Echo/Unary" })).toBe(405);
    expect(
      await status({ ":method": "POST", ":path": "/test.Echo/Unary", "content-type": "text/plain" }),
    ).toBe(415);
  });

  it("serves a grpc-js client, unary and streaming, and the health service", async () => {
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const reply = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest("/test.Echo/Unary", bytes, bytes, Buffer.from("grpc-js"), (error, value) =>
          error ? reject(error) : resolve(value!),
        ),
      );
      expect(reply.toString()).toBe("echo grpc-js");
      const stream = client.makeBidiStreamRequest("/test.Echo/Bidi", bytes, bytes);
      const replies: string[] = [];
      stream.on("data", (b: Buffer) => replies.push(b.toString()));
      const status = new Promise<{ code: number }>((resolve) => stream.on("status", resolve));
      stream.write(Buffer.from("x"));
      stream.write(Buffer.from("y"));
      stream.end();
      expect((await status).code).toBe(Status.OK);
      expect(replies).toEqual(["echo x", "echo y"]);
      const { service: health } = await import("grpc-health-check");
      const check = (service: string) =>
        new Promise<string>((resolve, reject) =>
          client.makeUnaryRequest(
            health.Check!.path,
            health.Check!.requestSerialize,
            health.Check!.responseDeserialize,
            { service },
            (error, value) => (error ? reject(error) : resolve((value as { status: string }).status)),
          ),
        );
      expect(await check("test.Echo")).toBe("SERVING");
      server.setServing(false);
      expect(await check("")).toBe("NOT_SERVING");
      await expect(check("other.Service")).rejects.toMatchObject({ code: Status.NOT_FOUND });
    } finally {
      client.close();
    }
  });

  it("survives random bytes: as gRPC bodies, as headers, and as a raw connection", async () => {
    let seed = 1234;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const noise = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    for (let i = 0; i < 200; i++) {
      const path = random() < 0.5 ? "/test.Echo/Unary" : "/test.Echo/Bidi";
      const chunks = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
        noise(Math.floor(random() * 64)),
      );
      if (random() < 0.3) chunks.unshift(Buffer.from([0, 0, 0, 0, Math.floor(random() * 40)]));
      const headers: Record<string, string> =
        random() < 0.2
          ? {
              "grpc-timeout": noise(4)
                .toString("latin1")
                .replace(/[^\x21-\x7e]/g, "x"),
            }
          : {};
      const answer = await call(session, path, chunks, headers);
      expect(Number.isInteger(answer.status)).toBe(true);
    }
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const socket = tcpConnect(port, "127.0.0.1", () => socket.end(noise(Math.floor(random() * 300))));
        socket.on("error", () => resolve());
        socket.on("close", () => resolve());
        socket.resume();
      });
    }
    const fresh = connect(`http://127.0.0.1:${port}`);
    try {
      expect((await call(fresh, "/test.Echo/Unary", [msg("still here")])).messages).toEqual([
        "echo still here",
      ]);
    } finally {
      fresh.destroy();
    }
  });
});
