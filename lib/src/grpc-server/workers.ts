import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { z } from "zod";

/**
 * Serving on every core: a server's process forks `WARDEN_WORKERS` copies of itself (node:cluster)
 * that all bind the same gRPC and status ports (the primary holds the listening sockets and hands
 * connections to the workers in turn), so one sidecar's authz-server or extproc-server runs its
 * JavaScript on as many cores as it is given. Each worker is a full server (its own policy instance,
 * registry feed, database pools, SVID stream); anything a process keeps in a file of its own (an
 * audit or usage spool) gets a per-worker name through `perWorkerPath`.
 *
 * Envoy keeps one HTTP/2 connection per worker thread to a gRPC cluster, and a connection belongs to
 * one server worker: spreading needs as many Envoy connections as server workers, so Envoy runs with
 * `--concurrency` ≥ WARDEN_WORKERS (`warden up` sets it; docs/benchmarks.md, "Using every core").
 *
 * The primary only supervises: SIGTERM/SIGINT go to every worker (each drains as it does alone),
 * and the primary exits once they have, with the first non-zero code. A worker that dies on its own
 * is started again, unless workers die more than `MAX_RESTARTS` times in a minute (then all stop
 * and the primary exits 1: a crash loop is for the supervisor above to see).
 */
export const WORKERS_ENV = "WARDEN_WORKERS";
const MAX_RESTARTS = 5;
const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;

const MAX_WORKERS = 64;
const WORKERS_RULE = `must be a whole number from 1 to ${MAX_WORKERS}, or "auto" (one per core)`;

/** WARDEN_WORKERS: a whole number from 1 to 64; "auto" is one per available core; null if neither. */
export function workerCount(value: string, cores: number): number | null {
  const trimmed = value.trim();
  if (trimmed === "auto") return Math.max(1, Math.min(MAX_WORKERS, cores));
  const n = Number(trimmed);
  return trimmed !== "" && Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS ? n : null;
}

/** The setting in both servers' schemas and `warden up`'s (which hands it to them and to Envoy). */
export const workersConfigShape = {
  [WORKERS_ENV]: z
    .string()
    .default("1")
    .transform((value, context) => {
      const n = workerCount(value, availableParallelism());
      if (n === null) context.addIssue({ code: z.ZodIssueCode.custom, message: WORKERS_RULE });
      return n ?? 1;
    })
    .describe(
      'Serving processes sharing the gRPC and status ports (one per core: `auto`); Envoy needs `--concurrency` at least as large, since each of its worker threads keeps one connection and a connection stays on one process. docs/benchmarks.md, "Using every core".',
    ),
};

/** `path` for this process: unchanged alone, `<path>.w<n>` in worker n, so no two processes share a file. */
export function perWorkerPath(path: string): string {
  return cluster.isWorker && cluster.worker ? `${path}.w${cluster.worker.id}` : path;
}

/**
 * Call in a server's main once its configuration is loaded (so a bad value stops the primary, once,
 * with a clear message), before anything else starts. With more than one worker wanted, the primary
 * forks them and supervises, and this resolves never (the primary exits when its workers have); in a
 * worker, or with one worker, it resolves at once and the caller serves.
 */
export async function serveOnWorkers(component: string, workers: number): Promise<void> {
  if (!cluster.isPrimary || workers <= 1) return;
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
