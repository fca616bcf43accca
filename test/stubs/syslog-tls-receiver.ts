import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type TLSSocket } from "node:tls";
import { readFrames } from "../../control-plane/src/siem/syslog-format.js";
import { ensureCa, ensureLeaf } from "../../lib/src/runtime/local-ca.js";

/**
 * A syslog collector over TLS (RFC 5425) for tests: its own CA and a certificate for 127.0.0.1,
 * octet-counted frames split as a collector does; what does not parse is kept as a framing error.
 */
export interface SyslogReceiver {
  /** host:port to configure as the target. */
  readonly target: string;
  /** The CA the sender must trust. */
  readonly caFile: string;
  readonly messages: string[];
  readonly framingErrors: string[];
  close(): Promise<void>;
}

export async function startSyslogReceiver(): Promise<SyslogReceiver> {
  const dir = mkdtempSync(join(tmpdir(), "warden-syslog-"));
  const ca = ensureCa(join(dir, "ca"), "/CN=test syslog CA");
  const leaf = ensureLeaf(join(dir, "server"), ca, { subject: "/CN=127.0.0.1", ips: ["127.0.0.1"] });
  const messages: string[] = [];
  const framingErrors: string[] = [];
  const sockets = new Set<TLSSocket>();
  const server = createServer(
    { cert: readFileSync(leaf.certFile), key: readFileSync(leaf.keyFile) },
    (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      let pending: Buffer = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        try {
          const { messages: complete, rest } = readFrames(Buffer.concat([pending, chunk]));
          messages.push(...complete);
          pending = rest;
        } catch (error) {
          framingErrors.push((error as Error).message);
          socket.destroy();
        }
      });
      socket.on("error", () => undefined);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    caFile: ca.certFile,
    messages,
    framingErrors,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
