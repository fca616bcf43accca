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
}

export class ManagedProcess {
  readonly logPath: string;
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    logPath: string,
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

  /** SIGTERM, then SIGKILL if the program has not exited after `graceMs`. */
  async stop(graceMs = 5_000): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
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
    env: { ...process.env, ...options.env },
    stdio: ["ignore", out, out],
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
  });
  closeSync(out);
  const managed = new ManagedProcess(options.name, child, logPath);
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
