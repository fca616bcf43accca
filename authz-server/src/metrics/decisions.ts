import { Counter, Histogram } from "prom-client";
import { SIDECAR_STAGE_BUCKETS } from "../../../lib/src/metrics/buckets.js";
import { BoundedLabel } from "../../../lib/src/metrics/labels.js";
import { metricsRegistry } from "../../../lib/src/metrics/registry.js";
import type { DecisionRecord } from "../authorizer.js";

/**
 * Decisions by outcome and reason, and the time each stage of a Check takes. This is on every call
 * through the sidecar, so it stays cheap: no label is built from request data except the policy's
 * reason and the destination service (both capped), and every label set's child is looked up once
 * and kept.
 */
const decisions = new Counter({
  name: "warden_authz_decisions_total",
  help: "ext_authz decisions by outcome (allow, deny, dry_run_deny, error), reason and destination service.",
  labelNames: ["outcome", "reason", "service"],
  registers: [metricsRegistry],
});

export type Stage = "facts" | "policy" | "delegation" | "response";

const stages = new Histogram({
  name: "warden_authz_stage_duration_seconds",
  help: "Time per stage of one Check: facts (request facts, identity, policy input), policy (WASM evaluation), delegation (token verification), response (handing the answer to gRPC).",
  labelNames: ["stage"],
  buckets: SIDECAR_STAGE_BUCKETS,
  registers: [metricsRegistry],
});

const checks = new Histogram({
  name: "warden_authz_check_duration_seconds",
  help: "Time from a Check's arrival to its answer, human approval waits excluded.",
  buckets: SIDECAR_STAGE_BUCKETS,
  registers: [metricsRegistry],
});

const stageChildren = {
  facts: stages.labels("facts"),
  policy: stages.labels("policy"),
  delegation: stages.labels("delegation"),
  response: stages.labels("response"),
};
const reasons = new BoundedLabel(200);
const services = new BoundedLabel(100);
const decisionChildren = new Map<string, Counter.Internal>();

/** Nanoseconds a Check spent in each stage; filled by the gRPC edge and the delegation stopwatch. */
export interface CheckTimings {
  /** authorize() as a whole: facts, delegation and policy together. */
  decideNs: number;
  delegationNs: number;
  respondNs: number;
}

/** In dry-run the record keeps the policy's verdict while the call is let through: dry_run_deny. */
export function outcomeOf(record: DecisionRecord): string {
  if (record.allow) return "allow";
  return record.dry_run ? "dry_run_deny" : "deny";
}

export function recordDecision(record: DecisionRecord, timings: CheckTimings): void {
  const outcome = outcomeOf(record);
  const reason = reasons.of(record.reason);
  const service = services.of(record.service);
  const key = `${outcome}\u0000${reason}\u0000${service}`;
  let child = decisionChildren.get(key);
  if (!child) {
    child = decisions.labels(outcome, reason, service);
    decisionChildren.set(key, child);
  }
  child.inc();
  const policyNs = record.eval_ns;
  const factsNs = Math.max(0, timings.decideNs - policyNs - timings.delegationNs);
  stageChildren.facts.observe(factsNs / 1e9);
  if (policyNs > 0) stageChildren.policy.observe(policyNs / 1e9);
  if (timings.delegationNs > 0) stageChildren.delegation.observe(timings.delegationNs / 1e9);
  stageChildren.response.observe(timings.respondNs / 1e9);
  checks.observe((timings.decideNs + timings.respondNs) / 1e9);
}

/** A Check that failed with an error (a bug): Envoy refuses it, fail-closed. */
export function recordCheckError(): void {
  decisions.labels("error", "check_failed", "unknown").inc();
}
