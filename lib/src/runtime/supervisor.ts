import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { Child, GiveUp, portOpen, sleep, type LaunchSpec } from "./child.js";
import type { HomePaths } from "./layout.js";
import type { ComponentState, SupervisorState } from "./state.js";

/**
 * One supervisor for the whole stack: starts the components in order (each ready before the next
 * starts), restarts one that exits with backoff (while it is down, Envoy refuses requests: both
 * servers are fail-closed), probes health, writes what it sees to supervisor.json, and stops
 * everything in reverse order.
 */
export interface Component {
  readonly name: string;
  /** Ports it listens on, for `warden status`. */
  readonly ports: Record<string, number>;
  /** Once per `up`, before the first launch: directories, keys, initdb, config files. */
  prepare?(): Promise<void>;
  launch(): LaunchSpec;
  /**
   * After every launch: waits until it serves and runs its set-up (unseal, roles, entries). Must
   * throw `GiveUp` (through `alive()`) when the process has exited.
   */
  ready(alive: () => void): Promise<void>;
  healthy(): Promise<boolean>;
}

interface Slot {
  component: Component;
  child: Child | null;
  state: ComponentState["state"];
  restarts: number;
  healthy: boolean;
  since: string;
}

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;
const HEALTH_INTERVAL_MS = 2_000;

export class Supervisor {
  private readonly slots: Slot[];
  private stopping = false;
  private ready = false;
  private healthTimer: NodeJS.Timeout | undefined;
  private readonly startedAt = new Date().toISOString();

  constructor(
    private readonly paths: HomePaths,
    components: Component[],
    private readonly info: Omit<SupervisorState, "pid" | "startedAt" | "ready" | "components">,
    private readonly say: (line: string) => void = () => undefined,
  ) {
    this.slots = components.map((component) => ({
      component,
      child: null,
      state: "stopped",
      restarts: 0,
      healthy: false,
      since: new Date().toISOString(),
    }));
  }

  /** Starts everything in order; on a failure stops what started and throws. */
  async start(): Promise<void> {
    mkdirSync(this.paths.logs, { recursive: true });
    // A busy port is one clear line now, not a component dying half-way through the start.
    for (const { component } of this.slots) {
      for (const [what, port] of Object.entries(component.ports)) {
        if (await portOpen(port))
          throw new Error(
            `port ${port} (${component.name} ${what}) is already in use: stop what uses it or set WARDEN_PORT_BASE`,
          );
      }
    }
    this.writeState();
    try {
      for (const slot of this.slots) {
        const begun = Date.now();
        if (slot.component.prepare) await slot.component.prepare();
        await this.launch(slot);
        this.say(
          `  ${slot.component.name.padEnd(14)} ready in ${((Date.now() - begun) / 1000).toFixed(1)} s`,
        );
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.ready = true;
    this.writeState();
    this.healthTimer = setInterval(() => void this.probeHealth(), HEALTH_INTERVAL_MS);
  }

  private async launch(slot: Slot): Promise<void> {
    const { component } = slot;
    slot.state = "starting";
    slot.since = new Date().toISOString();
    const child = Child.start(component.launch(), {
      name: component.name,
      logPath: this.paths.log(component.name),
      // Its own process group: a Ctrl-C in the terminal reaches the supervisor only, which then
      // stops the components in reverse order instead of all of them dying at once.
      detached: true,
    });
    slot.child = child;
    this.writeState();
    const alive = () => {
      if (!child.running)
        throw new GiveUp(
          child.spawnError
            ? `could not start ${component.name}: ${child.spawnError}`
            : `${component.name} exited while starting (see ${this.paths.log(component.name)})`,
        );
    };
    try {
      await component.ready(alive);
    } catch (error) {
      await child.stop();
      slot.state = "failed";
      this.writeState();
      throw new Error(`${component.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
    slot.state = "running";
    slot.healthy = true;
    this.writeState();
    void child.waitForExit().then(() => this.onExit(slot, child));
  }

  private async onExit(slot: Slot, child: Child): Promise<void> {
    if (this.stopping || slot.child !== child) return;
    slot.state = "restarting";
    slot.healthy = false;
    this.writeState();
    this.say(`warden: ${slot.component.name} exited; restarting`);
    let backoff = BACKOFF_MIN_MS;
    while (!this.stopping) {
      await sleep(backoff);
      if (this.stopping) return;
      slot.restarts += 1;
      try {
        await this.launch(slot);
        this.say(`warden: ${slot.component.name} is back (restart ${slot.restarts})`);
        return;
      } catch (error) {
        this.say(`warden: ${error instanceof Error ? error.message : String(error)}; retrying`);
        slot.state = "restarting";
        this.writeState();
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  private async probeHealth(): Promise<void> {
    for (const slot of this.slots) {
      if (slot.state !== "running") continue;
      slot.healthy = await slot.component.healthy().catch(() => false);
    }
    this.writeState();
  }

  /** Stops every component in reverse order. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.healthTimer);
    for (const slot of [...this.slots].reverse()) {
      if (slot.child?.running) await slot.child.stop();
      slot.state = "stopped";
      slot.healthy = false;
    }
    this.ready = false;
    this.writeState();
  }

  state(): SupervisorState {
    return {
      pid: process.pid,
      startedAt: this.startedAt,
      ready: this.ready,
      ...this.info,
      components: this.slots.map((slot) => ({
        name: slot.component.name,
        pid: slot.child?.running ? (slot.child.pid ?? null) : null,
        state: slot.state,
        healthy: slot.healthy,
        restarts: slot.restarts,
        since: slot.since,
        ports: slot.component.ports,
        log: this.paths.log(slot.component.name),
      })),
    };
  }

  private writeState(): void {
    const tmp = `${this.paths.state}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.state(), null, 2)}\n`);
    renameSync(tmp, this.paths.state);
  }
}
