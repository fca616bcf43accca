import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The one way tests, the demo and benchmarks start real programs (Envoy, SPIRE, OpenBao, PostgreSQL,
 * our servers): on loopback, with output captured to `.run/<name>.log`, always torn down.
 */
export const REPO_ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..").replace(
  /\/dist$/,
  "",
);
export const TOOLS_BIN = join(REPO_ROOT, ".tools", "bin");
export const RUN_DIR = join(REPO_ROOT, ".run");

/** How long a stop waits after each signal before escalating (SIGTERM → SIGKILL). */
export const STOP_GRACE_MS = 3_000;
/**
 * The shutdown grace our own servers get in tests (`WARDEN_SHUTDOWN_GRACE_MS`): well inside
 * STOP_GRACE_MS, so a server that drains for its whole grace still exits before the SIGKILL.
 */
export const SERVER_SHUTDOWN_GRACE_MS = 1_000;
/** The worst case of one stop: every signal of the longest escalation (SIGINT → SIGQUIT → SIGKILL). */
const WORST_STOP_MS = 3 * STOP_GRACE_MS;

/**
 * The timeout for a hook that stops `sequentialStops` programs one after another (stops that run
 * in parallel count once), each waiting out its grace at worst, plus 5 s for files and sockets.
 * Every afterAll that stops real processes passes this to jest instead of jest's 5 s default.
 */
export function teardownTimeoutMs(sequentialStops: number): number {
  return sequentialStops * WORST_STOP_MS + 5_000;
}

/** Enough for the largest teardown in the suite (a full stack with SPIRE, OpenBao, PostgreSQL, control plane). */
export const TEARDOWN_TIMEOUT_MS = teardownTimeoutMs(12);

export function toolPath(name: string): string {
  return join(TOOLS_BIN, name);
}

/** A free TCP port on 127.0.0.1 (the OS picks it; there is a small race until the program binds). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("no port"));
      server.close(() => resolvePort(address.port));
    });
  });
}

export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Thrown by a probe when waiting longer is pointless (the program exited): ends `waitFor` at once. */
export class WaitAborted extends Error {}

/** Polls `probe` until it returns true or the timeout passes. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (error) {
      if (error instanceof WaitAborted) throw error;
      lastError = error;
    }
    await sleep(50);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`,
  );
}

export function portAcceptsConnections(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolveProbe(true);
    });
    socket.once("error", () => resolveProbe(false));
  });
}

export interface StartOptions {
  name: string;
  command: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (and group `gid`, default the same number): tests tell workloads apart by uid. */
  uid?: number;
  gid?: number;
  /** How `stop()` ends it: the first signal, then each next one after STOP_GRACE_MS. */
  stopSignals?: readonly NodeJS.Signals[];
}

export class ManagedProcess {
  readonly logPath: string;
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    logPath: string,
    private readonly stopSignals: readonly NodeJS.Signals[] = ["SIGTERM", "SIGKILL"],
  ) {
    this.logPath = logPath;
    this.exited = new Promise((r) =>
      child.once("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        r(this.exitCode);
      }),
    );
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  log(): string {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  /** Waits until the program's output matches, failing early (with its log) if it exits. */
  async waitForLog(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `${this.name} log ${pattern}`,
      () => {
        if (!this.running)
          throw new WaitAborted(`${this.name} exited (${this.exitCode}); log:\n${this.log().slice(-4000)}`);
        return pattern.test(this.log());
      },
      timeoutMs,
    );
  }

  async waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `${this.name} on port ${port}`,
      async () => {
        if (!this.running)
          throw new WaitAborted(`${this.name} exited (${this.exitCode}); log:\n${this.log().slice(-4000)}`);
        return portAcceptsConnections(port);
      },
      timeoutMs,
    );
  }

  /**
   * Sends `signals[0]`, then each next signal when the program is still running `graceMs` later
   * (by default the program's own stop signals: SIGTERM, then SIGKILL), saying so on stderr: a stop
   * can never wait forever.
   */
  async stop(graceMs = STOP_GRACE_MS, signals = this.stopSignals): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    const [first, ...escalations] = signals;
    this.child.kill(first ?? "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const escalate = (remaining: readonly NodeJS.Signals[], previous: NodeJS.Signals): void => {
      const [next, ...rest] = remaining;
      if (next === undefined) return;
      timer = setTimeout(() => {
        if (!this.running) return;
        process.stderr.write(
          `harness: ${this.name} (pid ${this.pid}) still running ${graceMs} ms after ${previous}; sending ${next}\n`,
        );
        this.child.kill(next);
        escalate(rest, next);
      }, graceMs);
    };
    escalate(escalations, first ?? "SIGTERM");
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  kill(): Promise<number | null> {
    if (this.running) this.child.kill("SIGKILL");
    return this.exited;
  }

  waitForExit(): Promise<number | null> {
    return this.exited;
  }
}

const live = new Set<ManagedProcess>();

export function startProcess(options: StartOptions): ManagedProcess {
  mkdirSync(RUN_DIR, { recursive: true });
  const logPath = join(RUN_DIR, `${options.name}.log`);
  // Truncated synchronously, so waitForLog can never match a previous run's output.
  const out = openSync(logPath, "w");
  const child = spawn(options.command, options.args ?? [], {
    cwd: options.cwd ?? REPO_ROOT,
    // Our servers drain for at most SERVER_SHUTDOWN_GRACE_MS unless a test asks for more.
    env: { WARDEN_SHUTDOWN_GRACE_MS: String(SERVER_SHUTDOWN_GRACE_MS), ...process.env, ...options.env },
    stdio: ["ignore", out, out],
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
  });
  closeSync(out);
  const managed = new ManagedProcess(options.name, child, logPath, options.stopSignals);
  live.add(managed);
  void managed.waitForExit().then(() => live.delete(managed));
  return managed;
}

/** Stops every process this module started; call from afterAll / finally. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

// A crashed test run must not leave Envoy or PostgreSQL behind.
process.once("exit", () => {
  for (const p of live) p.child.kill("SIGKILL");
});
