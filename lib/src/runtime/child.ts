import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { dirname } from "node:path";

/**
 * One run of one program: output to its log file, stopped with a signal that escalates (never
 * waits forever). The supervisor starts a new Child for every restart; the test harness starts its
 * programs through the same class.
 */
export interface LaunchSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user and group (the supervisor runs as root; components get their own uids). */
  uid?: number;
  gid?: number;
  /** How a stop ends it: the first signal, then each next one after the grace. */
  stopSignals?: readonly NodeJS.Signals[];
}

export interface ChildOptions {
  /** Names it in waits and escalation notes. */
  name: string;
  logPath: string;
  /**
   * true: the log starts empty (a wait on its output can never match an earlier run); false: each
   * run is appended after a header line (the supervisor keeps the log across restarts).
   */
  freshLog?: boolean;
  /** Its own process group: a Ctrl-C in the terminal reaches the supervisor only. */
  detached?: boolean;
  /** How long a stop waits after each signal before the next one. */
  stopGraceMs?: number;
  /** Told when a stop escalates to the next signal. */
  onEscalate?: (note: string) => void;
}

export const STOP_GRACE_MS = 5_000;

export class Child {
  private exitCode: number | null | undefined;
  /** Why the program could not be started at all (e.g. ENOENT), if so. */
  spawnError: string | undefined;
  private readonly exited: Promise<number | null>;
  readonly name: string;
  readonly logPath: string;
  private readonly stopGraceMs: number;
  private readonly onEscalate: ((note: string) => void) | undefined;

  private constructor(
    /** The Node handle (signals, pid). */
    readonly child: ChildProcess,
    private readonly stopSignals: readonly NodeJS.Signals[],
    options: ChildOptions,
  ) {
    this.name = options.name;
    this.logPath = options.logPath;
    this.stopGraceMs = options.stopGraceMs ?? STOP_GRACE_MS;
    this.onEscalate = options.onEscalate;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitCode ??= code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
      // A failed spawn (a missing binary) may report only "error": it counts as an exit.
      child.once("error", (error) => {
        if (this.exitCode !== undefined || child.pid !== undefined) return;
        this.spawnError = error.message;
        this.exitCode = -1;
        resolve(-1);
      });
    });
  }

  static start(spec: LaunchSpec, options: ChildOptions): Child {
    const { logPath } = options;
    mkdirSync(dirname(logPath), { recursive: true });
    if (!options.freshLog)
      appendFileSync(logPath, `--- warden: starting ${spec.command} at ${new Date().toISOString()}\n`);
    // A fresh log is truncated synchronously, before the program can write to it.
    const out = openSync(logPath, options.freshLog ? "w" : "a");
    try {
      const child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: { ...process.env, ...spec.env },
        stdio: ["ignore", out, out],
        detached: options.detached ?? false,
        ...(spec.uid === undefined ? {} : { uid: spec.uid, gid: spec.gid ?? spec.uid }),
      });
      return new Child(child, spec.stopSignals ?? ["SIGTERM", "SIGKILL"], options);
    } finally {
      closeSync(out);
    }
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  waitForExit(): Promise<number | null> {
    return this.exited;
  }

  log(): string {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  /** Throws `GiveUp` (with the end of its log) once the program has exited: a wait ends at once. */
  assertRunning(): void {
    if (!this.running)
      throw new GiveUp(`${this.name} exited (${this.exitCode}); log:\n${this.log().slice(-4000)}`);
  }

  /** Waits until the program's output matches, failing early (with its log) if it exits. */
  async waitForLog(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `${this.name} log ${pattern}`,
      () => {
        this.assertRunning();
        return pattern.test(this.log());
      },
      timeoutMs,
    );
  }

  async waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `${this.name} on port ${port}`,
      async () => {
        this.assertRunning();
        return portOpen(port);
      },
      timeoutMs,
    );
  }

  /**
   * Sends `signals[0]`, then each next signal (SIGKILL once they run out) while the program is
   * still running `graceMs` later.
   */
  async stop(graceMs = this.stopGraceMs, signals = this.stopSignals): Promise<number | null> {
    const queue = [...signals];
    let previous: NodeJS.Signals | undefined;
    while (this.running) {
      const signal = queue.shift() ?? "SIGKILL";
      if (previous)
        this.onEscalate?.(
          `${this.name} (pid ${this.pid}) still running ${graceMs} ms after ${previous}; sending ${signal}`,
        );
      this.child.kill(signal);
      previous = signal;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), graceMs)));
      await Promise.race([this.exited, timedOut]);
      clearTimeout(timer);
    }
    return this.exited;
  }

  kill(): Promise<number | null> {
    if (this.running) this.child.kill("SIGKILL");
    return this.exited;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Thrown by a probe when waiting longer is pointless (the program exited): ends `waitFor` at once. */
export class GiveUp extends Error {}

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
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    await sleep(50);
  }
  const cause =
    lastError === undefined ? "" : `: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
}

/** Waits for `probe` while `alive()` (which throws `GiveUp` once the program exited) allows it. */
export function waitWhileAlive(
  what: string,
  alive: () => void,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  return waitFor(
    what,
    async () => {
      alive();
      return probe();
    },
    timeoutMs,
  );
}

/** Whether `action` completes without throwing. */
export async function succeeds(action: () => Promise<unknown>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch {
    return false;
  }
}

export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A free TCP port on 127.0.0.1 (the OS picks it; there is a small race until the program binds). */
/** The lowest port the kernel hands out for outgoing connections (and for `listen(0)`). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Free ports are picked here: below the ephemeral range, where no outgoing connection lands. */
export const PICK_FROM = 20_000;
export const PICK_TO = ephemeralLow() - 1;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port nothing listens on. Picked below the kernel's ephemeral range: a port from
 * `listen(0)` can be taken as the source port of some outgoing connection between the pick and the
 * program's own bind (EADDRINUSE); one below the range can only be taken by another listener.
 */
export async function freePort(): Promise<number> {
  if (PICK_TO - PICK_FROM < 1_000) return kernelPort();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM + 1));
    if (await bindable(port)) return port;
  }
  return kernelPort();
}

function kernelPort(): Promise<number> {
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

export async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_500) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
