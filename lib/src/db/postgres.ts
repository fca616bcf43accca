import pg from "pg";
import { ALL_TENANTS, tenantStartupOption } from "./tenant-scope.js";
import type { Database, ListenOptions, NotificationHandler, Queryable, QueryResult } from "./types.js";

const INT8_OID = 20;

/** int8 as number (our counters stay far below 2^53), like PGlite. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  max?: number;
  /** Milliseconds to wait for a connection before failing (the audit writer relies on failing fast). */
  connectTimeoutMs?: number;
  applicationName?: string;
  /** Server-side limit of each statement (PostgreSQL `statement_timeout`); unset: none. */
  statementTimeoutMs?: number;
  /**
   * The tenant this connection acts for under row-level security (`warden.tenant`, migration 029):
   * one tenant, or "*" for every tenant the login may serve (the default: a process that serves one
   * tenant says so in its configuration). A transaction can narrow it (lib/src/db/tenant-scope.ts).
   */
  tenant?: string;
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
      const result = await client.query(sql, params as unknown[]);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

export function createPostgresDatabase(connectionString: string, options: PostgresOptions = {}): Database {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3_000,
    application_name: options.applicationName ?? "warden",
    ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs }),
    options: tenantStartupOption(options.tenant ?? ALL_TENANTS),
    types,
  });
  // Without this handler an idle client losing its server (PostgreSQL restart) crashes the process.
  pool.on("error", () => undefined);
  const listeners = new Set<Listener>();

  return {
    kind: "postgres",
    ...wrap(pool),
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      // A server that goes away between two statements is reported as an "error" event, not a
      // rejected query; unheard, it would crash the process.
      const onError = () => {
        broken = true;
      };
      client.on("error", onError);
      try {
        await client.query("BEGIN");
        const result = await work(wrap(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        try {
          await client.query("ROLLBACK");
        } catch {
          broken = true;
        }
        throw error;
      } finally {
        client.off("error", onError);
        client.release(broken);
      }
    },
    async listen(channel: string, handler: NotificationHandler, listenOptions: ListenOptions = {}) {
      const listener = new Listener(connectionString, channel, handler, listenOptions, types);
      listeners.add(listener);
      await listener.start();
      return async () => {
        listeners.delete(listener);
        await listener.stop();
      };
    },
    async close() {
      await Promise.all([...listeners].map((l) => l.stop()));
      await pool.end();
    },
  };
}

/** A dedicated connection for LISTEN that reconnects with backoff and says so (missed notifications). */
class Listener {
  private client: pg.Client | undefined;
  private stopped = false;

  constructor(
    private readonly connectionString: string,
    private readonly channel: string,
    private readonly handler: NotificationHandler,
    private readonly options: ListenOptions,
    private readonly clientTypes: typeof types,
  ) {}

  async start(): Promise<void> {
    this.client = await this.open();
    void this.supervise(this.client);
  }

  private async open(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.connectionString, types: this.clientTypes });
    client.on("notification", (message) => {
      if (message.channel === this.channel) this.handler(message.payload ?? "");
    });
    client.on("error", () => undefined); // "end" follows; supervise() reconnects
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private async supervise(first: pg.Client): Promise<void> {
    let current = first;
    for (;;) {
      await new Promise<void>((resolve) => current.once("end", () => resolve()));
      let delayMs = 250;
      for (;;) {
        if (this.stopped) return;
        await new Promise<void>((resolve) => setTimeout(resolve, delayMs).unref());
        if (this.stopped) return;
        try {
          current = await this.open();
          break;
        } catch {
          delayMs = Math.min(delayMs * 2, 1_000); // the revocation feed must come back within a second
        }
      }
      this.client = current;
      if (this.stopped) {
        await current.end().catch(() => undefined);
        return;
      }
      this.options.onReconnect?.();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}
