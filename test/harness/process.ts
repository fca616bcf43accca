import { join } from "node:path";
import { Child, type LaunchSpec } from "../../lib/src/runtime/child.js";
import { REPO_ROOT } from "../../lib/src/runtime/layout.js";
import type { Component } from "../../lib/src/runtime/supervisor.js";

/**
 * The one way tests, the demo and benchmarks start real programs (Envoy, SPIRE, OpenBao, PostgreSQL,
 * our servers): the runtime's `Child` (as `warden up` runs them), on loopback, with output captured
 * to `.run/<name>.log`, always torn down.
 */
export {
  freePort,
  freePorts,
  GiveUp as WaitAborted,
  portOpen as portAcceptsConnections,
  sleep,
  waitFor,
} from "../../lib/src/runtime/child.js";
export { REPO_ROOT, toolPath } from "../../lib/src/runtime/layout.js";
export type ManagedProcess = Child;

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

export interface StartOptions extends Omit<LaunchSpec, "args"> {
  name: string;
  args?: string[];
}

const live = new Set<Child>();

/**
 * Starts a program with the test defaults: the repository as cwd, short server drains, a fresh log
 * (a wait on its output never matches an earlier run), the test stop grace, escalations on stderr.
 */
export function startProcess(options: StartOptions): Child {
  const { name, ...spec } = options;
  const child = Child.start(
    {
      ...spec,
      args: spec.args ?? [],
      cwd: spec.cwd ?? REPO_ROOT,
      // Our servers drain for at most SERVER_SHUTDOWN_GRACE_MS unless a test asks for more.
      env: { WARDEN_SHUTDOWN_GRACE_MS: String(SERVER_SHUTDOWN_GRACE_MS), ...process.env, ...spec.env },
    },
    {
      name,
      logPath: join(RUN_DIR, `${name}.log`),
      freshLog: true,
      stopGraceMs: STOP_GRACE_MS,
      onEscalate: (note) => process.stderr.write(`harness: ${note}\n`),
    },
  );
  live.add(child);
  void child.waitForExit().then(() => live.delete(child));
  return child;
}

/**
 * One launch of a runtime component (lib/src/runtime/components), as `warden up` launches it but
 * with the test defaults; ready when the component says so, stopped if it never gets there.
 */
export async function launchComponent(component: Component, name: string): Promise<Child> {
  const child = startProcess({ name, ...component.launch() });
  try {
    await component.ready(() => child.assertRunning());
  } catch (error) {
    await child.stop();
    throw error;
  }
  return child;
}

/** A runtime component's one-time set-up (keys, config files, initdb), then its launch. */
export async function startComponent(component: Component, name: string): Promise<Child> {
  await component.prepare?.();
  return launchComponent(component, name);
}

/** Stops every process this module started; call from afterAll / finally. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

// A crashed test run must not leave Envoy or PostgreSQL behind.
process.once("exit", () => {
  for (const p of live) p.child.kill("SIGKILL");
});
