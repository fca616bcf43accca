import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { ConfigError, exitOnConfigError } from "../config.js";

/**
 * Serving on every core: a server's process forks `WARDEN_WORKERS` copies of itself (node:cluster)
 * that all bind the same gRPC and status ports (the primary holds the listening sockets and hands
 * connections to the workers in turn), so one sidecar's authz-server or extproc-server runs its
 * JavaScript on as many cores as it is given. Each worker is a full server (its own policy instance,
 * registry feed, database pools, SVID stream); anything a process keeps in a file of its own (an
 * audit or usage spool) gets a per-worker name through `perWorkerPath`.
 *
 * Envoy keeps one HTTP/2 connection per worker thread to a gRPC cluster, and a connection belongs to
 * one server worker: spreading needs as many Envoy connections as server workers. Either run Envoy
 * with `--concurrency` ≥ WARDEN_WORKERS, or set `max_requests_per_connection`/several endpoints (see
 * docs/benchmarks.md, "Using every core").
 *
 * The primary only supervises: SIGTERM/SIGINT go to every worker (each drains as it does alone),
 * and the primary exits once they have, with the first non-zero code. A worker that dies on its own
 * is started again, unless workers die more than `MAX_RESTARTS` times in a minute (then all stop
 * and the primary exits 1: a crash loop is for the supervisor above to see).
 */
export const WORKERS_ENV = "WARDEN_WORKERS";
const MAX_RESTARTS = 5;
const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** WARDEN_WORKERS: a whole number from 1 to 64; "auto" is one per available core. */
export function workerCount(value: string | undefined, cores: number): number {
  if (value === undefined || value.trim() === "") return 1;
  if (value.trim() === "auto") return Math.max(1, cores);
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new ConfigError([`${WORKERS_ENV} must be a whole number from 1 to 64, or "auto" (got "${value}")`]);
  return n;
}

/** `path` for this process: unchanged alone, `<path>.w<n>` in worker n, so no two processes share a file. */
export function perWorkerPath(path: string): string {
  return cluster.isWorker && cluster.worker ? `${path}.w${cluster.worker.id}` : path;
}

/**
 * Call first in a server's main, with WARDEN_WORKERS. With more than one worker wanted, the primary
 * forks them and supervises, and this resolves never (the primary exits when its workers have); in a
 * worker, or with one worker, it resolves at once and the caller serves. A bad value exits 78.
 */
export async function serveOnWorkers(component: string, setting: string | undefined): Promise<void> {
  if (!cluster.isPrimary) return;
  let workers: number;
  try {
    workers = workerCount(setting, availableParallelism());
  } catch (error) {
    exitOnConfigError(component, error);
  }
  if (workers <= 1) return;
  const log = (message: string) =>
    process.stdout.write(
      `${JSON.stringify({ level: 30, time: Date.now(), component, msg: message, workers })}\n`,
    );
  let stopping = false;
  let exitCode = 0;
  const deaths: number[] = [];
  cluster.on("exit", (worker, code, signal) => {
    if (code !== 0 && code !== null) exitCode ||= code;
    if (!stopping) {
      const now = Date.now();
      deaths.push(now);
      while (deaths.length > 0 && deaths[0]! < now - 60_000) deaths.shift();
      if (deaths.length > MAX_RESTARTS) {
        log(`workers keep dying (last: code ${code}, signal ${signal}); stopping`);
        exitCode = 1;
        stopAll("SIGTERM");
      } else {
        log(`worker ${worker.id} exited (code ${code}, signal ${signal}); starting another`);
        cluster.fork();
      }
    }
    if (Object.keys(cluster.workers ?? {}).length === 0 && stopping) process.exit(exitCode);
  });
  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => stopAll(signal));
  for (let i = 0; i < workers; i++) cluster.fork();
  log(`${component} serving on ${workers} worker processes`);
  await new Promise<never>(() => undefined);
}
