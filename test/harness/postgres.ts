import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { postgresComponent, postgresUrl } from "../../lib/src/runtime/components/postgres.js";
import type { Component } from "../../lib/src/runtime/supervisor.js";
import { freePort, launchComponent, STOP_GRACE_MS, type ManagedProcess } from "./process.js";

/**
 * A throw-away PostgreSQL cluster for tests: the runtime's postgres component (as root it runs as
 * `nobody`) with its cluster in a temp dir, on a free port on 127.0.0.1, superuser `postgres` with
 * trust auth on loopback.
 */
export class PostgresCluster {
  private process: ManagedProcess | undefined;
  private databases = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly component: Component,
  ) {}

  get dataDir(): string {
    return join(this.dir, "data");
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** Connection string for a database (as the superuser). */
  url(database = "postgres", user = "postgres"): string {
    return postgresUrl(this.port, database, user);
  }

  static async create(): Promise<PostgresCluster> {
    const dir = mkdtempSync(join(tmpdir(), "warden-pg-"));
    const port = await freePort();
    const component = postgresComponent(dir, port, { maxConnections: 60, throwAway: true, database: null });
    await component.prepare?.();
    const cluster = new PostgresCluster(dir, port, component);
    await cluster.start();
    return cluster;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.process = await launchComponent(this.component, `postgres-${this.port}`);
  }

  ping(): Promise<boolean> {
    return this.component.healthy();
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
