import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { connect, type TLSSocket } from "node:tls";
import type { BlockList } from "node:net";
import type { Database } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import { auditAfterSeq } from "../audit/query.js";
import { chainHead, lockCursor, saveCursor } from "../webhooks/repository.js";
import { targetProblem } from "../webhooks/target.js";
import { AUDIT_CHANNEL } from "../webhooks/worker.js";
import { octetCountingFrame, syslogMessage } from "./syslog-format.js";

/**
 * Pushes the audit stream of the configured tenants to a syslog collector over TLS (RFC 5425). Each
 * tenant has its cursor (`syslog` in event_cursors, starting at the chain head when first seen); a
 * batch is written, and once the TLS socket has taken it the cursor moves on. Delivery is
 * at-least-once: RFC 5425 has no acknowledgements, so after a broken connection the last batch is
 * sent again; each message names its tenant and chain position for the collector to deduplicate.
 */
export const SYSLOG_CONSUMER = "syslog";
const BATCH = 200;

export interface SyslogPushOptions {
  db: Database;
  target: string;
  caFile: string | undefined;
  tenants: readonly string[];
  allowedNetworks: BlockList;
  pollMs: number;
  logger: Logger;
  now: () => Date;
}

export interface SyslogPush {
  stop(): Promise<void>;
}

function splitTarget(target: string): { host: string; port: number } {
  const at = target.lastIndexOf(":");
  return { host: target.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(target.slice(at + 1)) };
}

export async function startSyslogPush(options: SyslogPushOptions): Promise<SyslogPush> {
  const { host, port } = splitTarget(options.target);
  const ca = options.caFile ? readFileSync(options.caFile, "utf8") : undefined;
  const me = hostname();
  let socket: TLSSocket | null = null;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  async function open(): Promise<TLSSocket> {
    if (socket && !socket.destroyed) return socket;
    const problem = await targetProblem(`https://${options.target}/`, options.allowedNetworks);
    if (problem) throw new Error(`syslog target ${options.target} ${problem}`);
    socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({ host, port, servername: host, ca, rejectUnauthorized: true }, () => resolve(s));
      s.once("error", reject);
      s.setTimeout(30_000, () => s.destroy(new Error("syslog collector timed out")));
    });
    socket.on("error", (error) => options.logger.warn({ err: error }, "syslog connection failed"));
    socket.on("close", () => (socket = null));
    return socket;
  }

  function write(s: TLSSocket, frames: Buffer): Promise<void> {
    return new Promise((resolve, reject) => s.write(frames, (error) => (error ? reject(error) : resolve())));
  }

  /** One batch of a tenant: sent, then the cursor moves (in one transaction holding the cursor lock). */
  async function pushBatch(tenant: string): Promise<boolean> {
    return options.db.transaction(async (tx) => {
      let cursor = await lockCursor(tx, tenant, SYSLOG_CONSUMER);
      if (cursor === null) {
        cursor = await chainHead(tx, tenant);
        await saveCursor(tx, tenant, SYSLOG_CONSUMER, cursor, options.now());
        return false;
      }
      const records = await auditAfterSeq(tx, tenant, cursor, BATCH);
      if (records.length === 0) return false;
      const frames = Buffer.concat(records.map((r) => octetCountingFrame(syslogMessage(r, me))));
      await write(await open(), frames);
      await saveCursor(tx, tenant, SYSLOG_CONSUMER, records[records.length - 1]!.chain_seq, options.now());
      return records.length === BATCH;
    });
  }

  async function pass(): Promise<void> {
    do {
      again = false;
      for (const tenant of options.tenants) while (!stopped && (await pushBatch(tenant)));
    } while (again && !stopped);
  }

  function arm(ms: number) {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => kick(), ms);
    timer.unref();
  }

  function kick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .then(() => {
        failures = 0;
        arm(options.pollMs);
      })
      .catch((error: unknown) => {
        failures += 1;
        socket?.destroy();
        socket = null;
        const wait = Math.min(60_000, 500 * 2 ** Math.min(failures, 7));
        options.logger.warn({ err: error, retry_in_ms: wait }, "syslog push failed; retrying");
        arm(wait);
      })
      .finally(() => (running = null));
  }

  const tenants = new Set(options.tenants);
  const unlisten = await options.db.listen(AUDIT_CHANNEL, (tenant) => {
    if (tenant === "" || tenants.has(tenant)) kick();
  });
  kick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await unlisten().catch(() => undefined);
      while (running) await running;
      socket?.end();
      socket?.destroy();
    },
  };
}
