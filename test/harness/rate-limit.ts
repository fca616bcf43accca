import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RateLimitDefinition } from "../../lib/src/ratelimit/definitions.js";
import { renderServiceConfig } from "../../lib/src/ratelimit/service-config.js";
import {
  ensureRateLimitConfig,
  rateLimitConfigPaths,
  rateLimitServiceComponent,
  redisComponent,
} from "../../lib/src/runtime/components/rate-limit.js";
import { waitFor } from "../../lib/src/runtime/child.js";
import { freePorts, REPO_ROOT, RUN_DIR, startComponent, type ManagedProcess } from "./process.js";

/**
 * The shared rate-limit back end for tests, started through the runtime's own components (as
 * `warden up` starts them): Redis, and envoyproxy/ratelimit reading its limits from a watched file.
 */
export interface RateLimitBackend {
  /** The gRPC endpoint sidecars call (SidecarParams.rateLimit.service). */
  readonly service: { address: string; port: number };
  /** The file the service watches (the control plane's WARDEN_RATELIMIT_CONFIG_FILE). */
  readonly configFile: string;
  /** Replaces the limits and waits until the service has loaded them. */
  setLimits(definitions: readonly RateLimitDefinition[]): Promise<void>;
  /** Waits until the service has loaded exactly these limits (written by someone else). */
  waitForLimits(definitions: readonly RateLimitDefinition[]): Promise<void>;
  /** Stops only the rate-limit service (Redis stays): what a sidecar sees when the service is down. */
  stopService(): Promise<void>;
  startService(): Promise<void>;
  stop(): Promise<void>;
}

function rlconfigLine(d: RateLimitDefinition): string {
  const subject = d.scope === "tenant" ? "" : `.subject_${d.subject}`;
  return `warden.unit_${d.unit}.scope_${d.scope}.tenant_${d.tenant}${subject}: unit=MINUTE requests_per_unit=${d.perMinute}`;
}

export async function startRateLimitBackend(name: string): Promise<RateLimitBackend> {
  const dir = join(RUN_DIR, `${name}-ratelimit-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const [redisPort, grpc, http, debug] = (await freePorts(4)) as [number, number, number, number];
  const redis = await startComponent(redisComponent(join(dir, "redis"), redisPort), `${name}-redis`);
  const serviceComponent = rateLimitServiceComponent(dir, { grpc, http, debug }, redisPort);
  let service: ManagedProcess | null = null;
  const startService = async () => {
    service = await startComponent(serviceComponent, `${name}-ratelimit`);
  };
  const stopService = async () => {
    await service?.stop();
    service = null;
  };
  try {
    ensureRateLimitConfig(dir);
    await startService();
  } catch (error) {
    await redis.stop();
    throw error;
  }
  const { configFile } = rateLimitConfigPaths(dir);
  let generation = 0;
  const backend: RateLimitBackend = {
    service: { address: "127.0.0.1", port: grpc },
    configFile,
    async setLimits(definitions) {
      generation += 1;
      const yaml = renderServiceConfig(definitions);
      // Written beside and renamed: the service never reads half a file.
      const temporary = join(dir, `.warden.yaml.${generation}`);
      writeFileSync(temporary, yaml);
      renameSync(temporary, configFile);
      await backend.waitForLimits(definitions);
    },
    async waitForLimits(definitions) {
      // The service's /rlconfig (debug port) lists what it loaded, a line per limit.
      const expected = definitions.map(rlconfigLine).sort();
      await waitFor(
        "the rate-limit service to load the new limits",
        async () => {
          const response = await fetch(`http://127.0.0.1:${debug}/rlconfig`).catch(() => null);
          if (!response?.ok) return false;
          const lines = (await response.text()).split("\n").filter((line) => line.trim() !== "");
          return (
            JSON.stringify(lines.map((line) => line.split(", shadow_mode")[0]).sort()) ===
            JSON.stringify(expected)
          );
        },
        15_000,
      );
    },
    stopService,
    startService,
    async stop() {
      await stopService();
      await redis.stop();
    },
  };
  return backend;
}

/** The test policy that names the team from the `x-test-team` header (requests without a tenant). */
export const RATE_LIMIT_POLICY = join(REPO_ROOT, "test", "fixtures", "policy-rate-limits");

/** A per-minute request limit on one team of requests without a tenant (they count under "unknown"). */
export function teamLimit(team: string, perMinute: number): RateLimitDefinition {
  return {
    tenant: "unknown",
    scope: "team",
    subject: team,
    unit: "requests",
    perMinute,
    failureMode: "open",
  };
}

/**
 * The back end, then what uses it (a stack, several sidecars); the back end is stopped again if
 * that fails to start.
 */
export async function startOnRateLimitBackend<T>(
  name: string,
  start: (backend: RateLimitBackend) => Promise<T>,
): Promise<{ backend: RateLimitBackend; started: T }> {
  const backend = await startRateLimitBackend(name);
  try {
    return { backend, started: await start(backend) };
  } catch (error) {
    await backend.stop();
    throw error;
  }
}
