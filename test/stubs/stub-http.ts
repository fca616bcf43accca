import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The plumbing every stub server shares: bounded body reads, JSON answers, listening and closing. */

/** The whole request body, or null (and the request dropped) once it grows past `limitBytes`. */
export function readRequestBody(req: IncomingMessage, limitBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        resolve(null);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Starts listening (port 0: any free one) and answers the port it got. */
export async function listen(server: Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Drops open connections (SSE streams included) and stops listening. */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** What a recording stub hands to tests: where it listens and what it saw. */
export interface RecordingStub<Request, Stream> {
  readonly port: number;
  readonly url: string;
  readonly requests: Request[];
  readonly streams: Stream[];
  /** Forgets recorded requests and streams (between tests sharing one stub). */
  reset(): void;
  close(): Promise<void>;
}

export function recordingStub<Request, Stream>(
  server: Server,
  where: { host: string; port: number },
  recorded: { requests: Request[]; streams: Stream[] },
  beforeClose: () => void = () => undefined,
): RecordingStub<Request, Stream> {
  const { requests, streams } = recorded;
  return {
    port: where.port,
    url: `http://${where.host}:${where.port}`,
    requests,
    streams,
    reset() {
      requests.length = 0;
      streams.length = 0;
    },
    close() {
      beforeClose();
      return closeServer(server);
    },
  };
}
