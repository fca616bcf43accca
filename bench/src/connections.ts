import { connect, type Socket } from "node:net";

/**
 * Many idle agent connections to a sidecar: each opens an HTTP/1.1 keep-alive connection, makes one
 * request through the whole filter chain, reads the answer and stays open. Raw sockets, not an
 * http.Agent, so ten thousand of them cost this process little.
 */
export interface OpenConnections {
  readonly sockets: Socket[];
  /** Requests that did not get a 200 (no answer at all counts as status 0). */
  readonly failures: number;
  readonly statuses: Record<string, number>;
  closeAll(): void;
}

function oneRequest(
  port: number,
  path: string,
  timeoutMs: number,
): Promise<{ socket: Socket; status: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("latin1");
    socket.once("connect", () =>
      socket.write(`GET ${path} HTTP/1.1\r\nhost: sidecar\r\nuser-agent: warden-bench-agent\r\n\r\n`),
    );
    const onData = (chunk: string) => {
      received += chunk;
      const headEnd = received.indexOf("\r\n\r\n");
      if (headEnd === -1) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(received.slice(0, headEnd))?.[1] ?? 0);
      if (received.length < headEnd + 4 + length) return;
      clearTimeout(timer);
      socket.off("data", onData);
      resolve({ socket, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0) });
    };
    socket.on("data", onData);
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export async function openConnections(
  port: number,
  path: string,
  count: number,
  batch = 50,
): Promise<OpenConnections> {
  const sockets: Socket[] = [];
  const statuses: Record<string, number> = {};
  let failures = 0;
  for (let opened = 0; opened < count; opened += batch) {
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(batch, count - opened) }, () => oneRequest(port, path, 30_000)),
    );
    for (const result of results) {
      if (result.status === "rejected") {
        failures += 1;
        statuses["0"] = (statuses["0"] ?? 0) + 1;
        continue;
      }
      statuses[result.value.status] = (statuses[result.value.status] ?? 0) + 1;
      // Later errors (the sidecar closing an idle connection) must not crash the bench.
      result.value.socket.on("error", () => undefined);
      sockets.push(result.value.socket);
      if (result.value.status !== 200) failures += 1;
    }
  }
  return {
    sockets,
    failures,
    statuses,
    closeAll: () => sockets.forEach((socket) => socket.destroy()),
  };
}

/** How many descriptors this process may open (`ulimit -n`), from /proc. */
export function openFileLimit(limits: string): { soft: number; hard: number } | null {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (!match) return null;
  const value = (text: string) => (text === "unlimited" ? Number.POSITIVE_INFINITY : Number(text));
  return { soft: value(match[1]!), hard: value(match[2]!) };
}
