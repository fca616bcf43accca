import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { runWarden } from "../../control-plane/src/cli/warden.js";
import { readTarGz, writeTarGz } from "../../lib/src/policy-bundle/tar.js";

/**
 * Helpers for the policy rollout tests (distribution and hot swap): the author's `warden policy`
 * commands, an attacker's one-byte change to a signed bundle, and a steady request load.
 */

/** Runs `warden policy <argv>` in-process; throws with its error output unless it exits 0. */
export async function wardenPolicy(...argv: string[]): Promise<string> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runWarden(["policy", ...argv], {
    env: { PATH: process.env.PATH },
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
  });
  if (code !== 0) throw new Error(`warden policy ${argv[0]} exited ${code}: ${err.join("\n")}`);
  return out.join("\n");
}

/** `warden policy push` of `bundlePath` to `to`; answers performance.now() once the upload is complete. */
export async function pushBundle(bundlePath: string, to: string, tokenFile: string): Promise<number> {
  await wardenPolicy("push", "--bundle", bundlePath, "--to", to, "--token-file", tokenFile);
  return performance.now();
}

/** Changes `from` to `to` (same length: one byte) in the bundle's data.json, leaving the signature. */
export function tamperWithData(bundlePath: string, from: string, to: string): void {
  const files = readTarGz(readFileSync(bundlePath));
  const data = files.get("data.json")!.toString("utf8");
  if (!data.includes(from)) throw new Error(`data.json does not contain ${from}`);
  files.set("data.json", Buffer.from(data.replace(from, to)));
  writeFileSync(bundlePath, writeTarGz(files));
}

/**
 * Starts `rate` requests per second (each made by `send`, which must not reject) until stopped.
 * Requests are started on schedule whether or not earlier ones have finished, as real traffic is.
 */
export function steadyLoad(rate: number, send: (n: number) => Promise<void>): { stop(): Promise<number> } {
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * rate) / 1000);
    while (sent < due) {
      const request: Promise<void> = send(sent++).finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
  }, 5);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inFlight);
      return sent;
    },
  };
}

/** A pause between pushes of `base` to `2 × base` ms, so pushes do not fall at one point of the poll cycle. */
export function jitteredPause(baseMs: number): Promise<void> {
  return new Promise((r) => setTimeout(r, baseMs + Math.random() * baseMs));
}

/** "p50 …, p99 …, max …" of latencies in ms. */
export function latencySummary(values: readonly number[]): string {
  if (values.length === 0) return "n/a";
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
  return `p50 ${at(0.5)}, p99 ${at(0.99)}, max ${sorted[sorted.length - 1]!.toFixed(1)}`;
}

/**
 * Wall-clock times (ms) at which a process logged "policy bundle activated" for a revision matching
 * `revision`. The new bundle was verified and instantiated just before.
 */
export function activationTimes(log: string, revision: RegExp): number[] {
  return log
    .split("\n")
    .filter((line) => line.includes("policy bundle activated"))
    .flatMap((line) => {
      const entry = JSON.parse(line) as { time: number; policy_revision?: string };
      return revision.test(entry.policy_revision ?? "") ? [entry.time] : [];
    });
}

/**
 * Whether a request sent at `sentAt` (wall clock, ms) was in flight around a swap: sent in the 250 ms
 * (Envoy's ext_authz timeout) before a new policy took effect, while it was being loaded.
 */
export function sentAroundSwap(sentAt: number, activations: readonly number[]): boolean {
  return activations.some((t) => sentAt >= t - 250 && sentAt <= t);
}

/**
 * The figure of what a swap costs a request in flight: latency of all requests, of those sent in the
 * 250 ms before an activation (`sentAroundSwap`), and how many of the latter failed.
 */
export function swapLatencyFigure(
  label: string,
  outcomes: readonly { sentAtEpoch: number; ms: number }[],
  activations: readonly number[],
  failed: readonly unknown[],
): string {
  const nearSwap = outcomes.filter((o) => sentAroundSwap(o.sentAtEpoch, activations));
  return (
    `${label} (ms): all ${latencySummary(outcomes.map((o) => o.ms))}; ` +
    `sent ≤ 250 ms before a swap took effect (${nearSwap.length}) ${latencySummary(nearSwap.map((o) => o.ms))}; ` +
    `of these failed: ${nearSwap.filter((o) => failed.includes(o)).length}`
  );
}
