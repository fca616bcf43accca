import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { performance } from "node:perf_hooks";
import { freePorts } from "../harness/process.js";
import { startEnvoy, type EnvoySidecar } from "../harness/envoy.js";
import type { RateLimitBackend } from "../harness/rate-limit.js";
import { startStack, stubbedProviderDestinations, type Stack } from "../harness/stack.js";

/**
 * Several sidecars sharing one rate-limit service, and load through them: the rate-limit suites'
 * common ground (test/integration/rate-limits-accuracy.test.ts, bench/rate-limits.ts). One
 * authz-server and one extproc-server serve every Envoy (as on one machine with `warden up`); each
 * Envoy is its own sidecar with its own connection to the service, so counting is shared only
 * through the service and Redis.
 */
export interface Sidecars {
  stack: Stack;
  /** Base URLs of every sidecar, the stack's own first. */
  urls: string[];
  stop(): Promise<void>;
}

export async function startSidecars(
  name: string,
  policyDir: string,
  backend: RateLimitBackend,
  count: number,
): Promise<Sidecars> {
  const rateLimit = { service: backend.service, timeoutMs: 1_000 };
  const stack = await startStack({ name, policyDir, sidecar: { rateLimit } });
  const extra: EnvoySidecar[] = [];
  const urls = [stack.agentUrl];
  try {
    for (let i = 1; i < count; i++) {
      const [agentPort, adminPort] = (await freePorts(2)) as [number, number];
      extra.push(
        await startEnvoy(`${name}-sidecar-${i}-${process.pid}`, {
          agentListener: { port: agentPort },
          admin: { port: adminPort },
          authz: { address: "127.0.0.1", port: stack.authz.port },
          extproc: { address: "127.0.0.1", port: stack.extproc.port },
          destinations: stubbedProviderDestinations(stack.upstream),
          timeouts: { authzMs: 3_000, extprocMessageMs: 5_000 },
          rateLimit,
        }),
      );
      urls.push(`http://127.0.0.1:${agentPort}`);
    }
  } catch (error) {
    for (const envoy of extra) await envoy.stop();
    await stack.stop();
    throw error;
  }
  return {
    stack,
    urls,
    async stop() {
      for (const envoy of extra) await envoy.stop();
      await stack.stop();
    },
  };
}

export interface Outcome {
  status: number;
  /** Wall-clock ms when the answer came (the service's windows are wall-clock minutes). */
  at: number;
  latencyMs: number;
}

const agents = new Map<string, HttpAgent>();
function agentFor(url: string): HttpAgent {
  let agent = agents.get(url);
  if (!agent) {
    agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
    agents.set(url, agent);
  }
  return agent;
}

function get(url: string, team: string): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${url}/openai/v1/models`,
      { agent: agentFor(url), headers: { "x-test-team": team } },
      (response) => {
        response.resume();
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            at: Date.now(),
            latencyMs: performance.now() - started,
          }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end();
  });
}

/**
 * `total` requests as team `team`, spread round-robin over the sidecars, `concurrency` in flight;
 * `perSecond` (optional) paces the starts.
 */
export async function offer(
  urls: readonly string[],
  team: string,
  total: number,
  concurrency: number,
  perSecond?: number,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const begin = performance.now();
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= total) return;
      if (perSecond !== undefined) {
        const due = begin + (index * 1000) / perSecond;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      outcomes.push(await get(urls[index % urls.length]!, team));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

/** Admitted (200) requests per wall-clock minute window. */
export function admittedPerWindow(outcomes: readonly Outcome[]): Map<number, number> {
  const windows = new Map<number, number>();
  for (const outcome of outcomes) {
    const minute = Math.floor(outcome.at / 60_000);
    if (outcome.status === 200) windows.set(minute, (windows.get(minute) ?? 0) + 1);
    else if (!windows.has(minute)) windows.set(minute, 0);
  }
  return windows;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Waits until the current minute has at least `seconds` left. */
export async function windowWithRoom(seconds: number): Promise<void> {
  const left = 60 - new Date().getUTCSeconds();
  if (left < seconds) await new Promise((resolve) => setTimeout(resolve, left * 1000 + 200));
}
