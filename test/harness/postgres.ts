import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort, startProcess, STOP_GRACE_MS, toolPath, waitFor, type ManagedProcess } from "./process.js";

/**
 * A throw-away PostgreSQL cluster for tests: initdb into a temp dir, postgres on a free port on
 * 127.0.0.1 (unix socket in the temp dir), superuser `postgres` with trust auth on loopback.
 *
 * PostgreSQL refuses to run as root. When the tests run as root, initdb and postgres run as the
 * unprivileged `nobody` user through `setpriv` (which execs, so the process we hold is postgres
 * itself and signals reach it directly); the temp dir is chowned to that user.
 */
const run = promisify(execFile);
const RUN_AS = "nobody";

function binary(name: string): string {
  const tool = toolPath(name);
  if (existsSync(tool)) return tool;
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).sort().reverse() : [];
  for (const version of versions) {
    const candidate = join(base, version, "bin", name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found in .tools/bin or ${base} (run scripts/setup)`);
}

function asUnprivileged(command: string, args: string[]): { command: string; args: string[] } {
  if (process.getuid?.() !== 0) return { command, args };
  return {
    command: "setpriv",
    args: [`--reuid=${RUN_AS}`, "--regid=nogroup", "--clear-groups", "--", command, ...args],
  };
}

export class PostgresCluster {
  private process: ManagedProcess | undefined;
  private databases = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return join(this.dir, "data");
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** Connection string for a database (as the superuser). */
  url(database = "postgres", user = "postgres"): string {
    return `postgresql://${user}@127.0.0.1:${this.port}/${database}`;
  }

  static async create(): Promise<PostgresCluster> {
    const dir = mkdtempSync(join(tmpdir(), "warden-pg-"));
    if (process.getuid?.() === 0) {
      const { stdout } = await run("id", ["-u", RUN_AS]);
      chownSync(dir, Number(stdout.trim()), -1);
    }
    const cluster = new PostgresCluster(dir, await freePort());
    const initdb = asUnprivileged(binary("initdb"), [
      "-D",
      cluster.dataDir,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
      "--no-sync",
    ]);
    await run(initdb.command, initdb.args, { timeout: 60_000 });
    await cluster.start();
    return cluster;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const postgres = asUnprivileged(binary("postgres"), [
      "-D",
      this.dataDir,
      "-p",
      String(this.port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${this.dir}`,
      "-c",
      "max_connections=60",
      "-c",
      "shared_buffers=32MB",
    ]);
    this.process = startProcess({
      name: `postgres-${this.port}`,
      command: postgres.command,
      args: postgres.args,
      // SIGTERM is "smart" mode, which waits for every client to leave; SIGINT ("fast") disconnects
      // them, SIGQUIT ("immediate") kills the backends. A lone SIGKILL would orphan the backends.
      stopSignals: ["SIGINT", "SIGQUIT", "SIGKILL"],
    });
    await this.process.waitForPort(this.port, 30_000);
    await waitFor("postgres to accept queries", () => this.ping(), 30_000);
  }

  async ping(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 1_000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Clean shutdown (SIGINT: "fast" mode, clients are disconnected). */
  async stop(): Promise<void> {
    if (!this.process?.running) return;
    await this.process.stop();
  }

  /**
   * Crash-like stop (SIGQUIT: "immediate" mode). Every backend is killed at once, no checkpoint;
   * the next start runs crash recovery. SIGKILL of the postmaster alone would leave orphaned
   * backends holding shared memory, which then blocks the restart.
   */
  async kill(): Promise<void> {
    if (!this.process?.running) return;
    await this.process.stop(STOP_GRACE_MS, ["SIGQUIT", "SIGKILL"]);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** A fresh, empty database; returns its connection string. */
  async createDatabase(prefix = "warden"): Promise<string> {
    this.databases += 1;
    const name = `${prefix}_${this.databases}_${Date.now().toString(36)}`;
    await this.sql(`CREATE DATABASE ${name}`);
    return this.url(name);
  }

  /** Runs SQL as the superuser, on `database`. */
  async sql<Row extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    params: unknown[] = [],
    database = "postgres",
  ): Promise<Row[]> {
    const client = new pg.Client({ connectionString: this.url(database) });
    await client.connect();
    try {
      return (await client.query<Row>(text, params)).rows;
    } finally {
      await client.end();
    }
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function startPostgres(): Promise<PostgresCluster> {
  return PostgresCluster.create();
}
