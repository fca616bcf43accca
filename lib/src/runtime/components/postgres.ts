import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { succeeds, waitWhileAlive } from "../child.js";
import { postgresBinary } from "../layout.js";
import type { Component } from "../supervisor.js";

/**
 * The embedded PostgreSQL: a cluster in $WARDEN_HOME/postgres (initdb on first start), on loopback
 * only, trust auth for local logins (one machine, one operator; production uses its own server with
 * passwords or certificates through DATABASE_URL). PostgreSQL refuses to run as root: as root it runs
 * as `nobody` through setpriv (which execs, so signals reach postgres itself).
 */
const run = promisify(execFile);
const RUN_AS = "nobody";
export const DATABASE_NAME = "warden";

function asUnprivileged(command: string, args: string[]): { command: string; args: string[] } {
  if (process.getuid?.() !== 0) return { command, args };
  return {
    command: "setpriv",
    args: [`--reuid=${RUN_AS}`, "--regid=nogroup", "--clear-groups", "--", command, ...args],
  };
}

export function postgresUrl(port: number, database = DATABASE_NAME, user = "postgres"): string {
  return `postgresql://${user}@127.0.0.1:${port}/${database}`;
}

export async function querySql(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PostgresTuning {
  /** Default 100. */
  maxConnections?: number;
  /** initdb without fsync: a throw-away cluster (tests) starts faster. */
  throwAway?: boolean;
  /** The database created when missing; null creates none. Default DATABASE_NAME. */
  database?: string | null;
}

export function postgresComponent(dir: string, port: number, tuning: PostgresTuning = {}): Component {
  const dataDir = join(dir, "data");
  const database = tuning.database === undefined ? DATABASE_NAME : tuning.database;
  return {
    name: "postgres",
    ports: { postgres: port },
    async prepare() {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (process.getuid?.() === 0) {
        const { stdout } = await run("id", ["-u", RUN_AS]);
        chownSync(dir, Number(stdout.trim()), -1);
      }
      if (existsSync(join(dataDir, "PG_VERSION"))) return;
      const initdb = asUnprivileged(postgresBinary("initdb"), [
        "-D",
        dataDir,
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        ...(tuning.throwAway ? ["--no-sync"] : []),
      ]);
      await run(initdb.command, initdb.args, { timeout: 120_000 });
    },
    launch() {
      const postgres = asUnprivileged(postgresBinary("postgres"), [
        "-D",
        dataDir,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        `unix_socket_directories=${dir}`,
        "-c",
        `max_connections=${tuning.maxConnections ?? 100}`,
        "-c",
        "shared_buffers=32MB",
      ]);
      // SIGINT is "fast" shutdown (clients disconnected); SIGTERM would wait for every client.
      return { ...postgres, stopSignals: ["SIGINT", "SIGQUIT", "SIGKILL"] };
    },
    async ready(alive) {
      await waitWhileAlive(
        "postgres to accept queries",
        alive,
        async () => Boolean(await querySql(postgresUrl(port, "postgres"), "SELECT 1")),
        60_000,
      );
      if (database === null) return;
      const exists = await querySql(
        postgresUrl(port, "postgres"),
        `SELECT 1 FROM pg_database WHERE datname = '${database}'`,
      );
      if (exists.rowCount === 0) await querySql(postgresUrl(port, "postgres"), `CREATE DATABASE ${database}`);
    },
    healthy: () => succeeds(() => querySql(postgresUrl(port, "postgres"), "SELECT 1")),
  };
}
