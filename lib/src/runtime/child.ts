import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, mkdirSync, openSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";

/**
 * One run of one program: output appended to its log file, stopped with a signal that escalates
 * (never waits forever). The supervisor starts a new Child for every restart.
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

export const STOP_GRACE_MS = 5_000;

export class Child {
  private exitCode: number | null | undefined;
  /** Why the program could not be started at all (e.g. ENOENT), if so. */
  spawnError: string | undefined;
  readonly exited: Promise<number | null>;

  private constructor(
    readonly process: ChildProcess,
    private readonly stopSignals: readonly NodeJS.Signals[],
  ) {
    this.exited = new Promise((resolve) => {
      process.once("exit", (code, signal) => {
        this.exitCode ??= code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
      // A failed spawn (a missing binary) may report only "error": it counts as an exit.
      process.once("error", (error) => {
        if (this.exitCode !== undefined || process.pid !== undefined) return;
        this.spawnError = error.message;
        this.exitCode = -1;
        resolve(-1);
      });
    });
  }

  static start(spec: LaunchSpec, logPath: string): Child {
    mkdirSync(dirname(logPath), { recursive: true });
    appendFileSync(logPath, `--- warden: starting ${spec.command} at ${new Date().toISOString()}\n`);
    const out = openSync(logPath, "a");
    try {
      const child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: { ...process.env, ...spec.env },
        stdio: ["ignore", out, out],
        // Its own process group: a Ctrl-C in the terminal reaches the supervisor only, which then
        // stops the components in reverse order instead of all of them dying at once.
        detached: true,
        ...(spec.uid === undefined ? {} : { uid: spec.uid, gid: spec.gid ?? spec.uid }),
      });
      return new Child(child, spec.stopSignals ?? ["SIGTERM", "SIGKILL"]);
    } finally {
      closeSync(out);
    }
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async stop(graceMs = STOP_GRACE_MS): Promise<number | null> {
    const signals = [...this.stopSignals];
    while (this.running) {
      const signal = signals.shift() ?? "SIGKILL";
      this.process.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), graceMs)));
      await Promise.race([this.exited, timedOut]);
      clearTimeout(timer);
    }
    return this.exited;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until true; a probe that throws `GiveUp` ends the wait at once. */
export class GiveUp extends Error {}

export async function waitFor(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
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
    await sleep(100);
  }
  const cause = lastError instanceof Error ? `: ${lastError.message}` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
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
