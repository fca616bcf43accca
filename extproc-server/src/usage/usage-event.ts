import { z } from "zod";
import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { UNKNOWN_TENANT, type AuditEventInput } from "../../../lib/src/audit/event.js";
import type { Queryable } from "../../../lib/src/db/types.js";
import { picoToMicrosRounded } from "../../../lib/src/llm/money.js";
import { usageJson, type PricedUsageRecord } from "./record.js";

/**
 * A usage record travels as an audit event (action `llm.request`, the record in
 * `details.llm_usage`) through the audit writer and its spool; the transaction that appends the
 * event also inserts its `llm_usage` row, so the two exist together or not at all.
 */
export const USAGE_ACTION = "llm.request";
export const SOFT_BUDGET_ACTION = "llm_budget.soft_limit_reached";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A decision without a tenant is still recorded (and visible as such) rather than lost. */
export { UNKNOWN_TENANT } from "../../../lib/src/audit/event.js";

export function usageAuditEvent(record: PricedUsageRecord): AuditEventInput {
  const { usage } = record;
  return {
    tenant: record.tenant ?? UNKNOWN_TENANT,
    occurred_at: new Date(record.startedAt),
    source: "extproc-server",
    action: USAGE_ACTION,
    actor: record.agentSpiffeId,
    // The audit column holds registry ids (uuids); any other agent id stays in the details.
    agent_id: record.agentId !== null && UUID.test(record.agentId) ? record.agentId : null,
    agent_spiffe_id: record.agentSpiffeId,
    user_id: record.userId,
    delegation_id: record.delegationId,
    decision: record.errorCode === null ? "allow" : "deny",
    reason: record.errorCode,
    decision_id: record.decisionId,
    resource_type: "llm",
    resource_id: record.provider,
    upstream: record.provider,
    model: record.model ?? record.requestedModel,
    tokens_in: usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens,
    tokens_out: usage.outputTokens,
    cost_micros: record.costPicoUsd === null ? null : Number(picoToMicrosRounded(record.costPicoUsd)),
    latency_ms: record.latencyMs,
    details: { llm_usage: usageJson(record) },
  };
}

const count = z.number().int().min(0);
const text = z.string().nullable();

/** `details.llm_usage` as it comes back from the spool or the database: checked, not trusted. */
const storedUsage = z.object({
  tenant: text,
  agentId: text,
  agentSpiffeId: text,
  team: text,
  userId: text,
  delegationId: text,
  decisionId: z.string(),
  provider: z.string(),
  operation: z.string(),
  requestedModel: text,
  model: text,
  responseModel: text,
  stream: z.boolean(),
  outcome: z.enum(["completed", "cut", "not_forwarded"]),
  status: z.number().int(),
  errorCode: text,
  usage: z.object({
    inputTokens: count,
    cachedInputTokens: count,
    cacheWriteTokens: count,
    outputTokens: count,
    reasoningTokens: count,
  }),
  usageSource: z.enum(["body", "stream", "estimated", "none"]),
  costPicoUsd: z.string().regex(/^\d+$/).nullable(),
  priceVersion: z.string(),
  latencyMs: z.number().min(0),
  timeToFirstByteMs: z.number().min(0).nullable(),
  recordedBy: z.string(),
  recordSeq: count,
});

const COLUMNS = [
  "event_id",
  "tenant",
  "occurred_at",
  "agent_id",
  "agent_spiffe_id",
  "team",
  "user_id",
  "delegation_id",
  "decision_id",
  "provider",
  "operation",
  "requested_model",
  "model",
  "response_model",
  "stream",
  "outcome",
  "status",
  "error_code",
  "input_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "output_tokens",
  "reasoning_tokens",
  "usage_source",
  "cost_pico_usd",
  "price_version",
  "latency_ms",
  "ttfb_ms",
  "recorded_by",
  "record_seq",
] as const;

/** The `llm_usage` row of an appended audit event, or null when it is not a usage event. */
export function usageRowOf(event: AuditRecord): unknown[] | null {
  if (event.action !== USAGE_ACTION) return null;
  const parsed = storedUsage.safeParse(event.details.llm_usage);
  if (!parsed.success) throw new Error(`audit event ${event.event_id} carries a malformed llm_usage`);
  const u = parsed.data;
  return [
    event.event_id,
    event.tenant,
    event.occurred_at,
    u.agentId,
    u.agentSpiffeId,
    u.team,
    u.userId,
    u.delegationId,
    u.decisionId,
    u.provider,
    u.operation,
    u.requestedModel,
    u.model,
    u.responseModel,
    u.stream,
    u.outcome,
    u.status,
    u.errorCode,
    u.usage.inputTokens,
    u.usage.cachedInputTokens,
    u.usage.cacheWriteTokens,
    u.usage.outputTokens,
    u.usage.reasoningTokens,
    u.usageSource,
    u.costPicoUsd,
    u.priceVersion,
    u.latencyMs,
    u.timeToFirstByteMs,
    u.recordedBy,
    u.recordSeq,
  ];
}

/** The audit writer's `afterAppend`: one usage row per appended usage event, in the same transaction. */
export async function insertUsageRows(tx: Queryable, inserted: readonly AuditRecord[]): Promise<void> {
  const rows = inserted.map(usageRowOf).filter((row): row is unknown[] => row !== null);
  if (rows.length === 0) return;
  const params: unknown[] = [];
  const tuples = rows.map((row) => {
    const placeholders = row.map((value) => {
      params.push(value);
      return `$${params.length}`;
    });
    return `(${placeholders.join(", ")})`;
  });
  await tx.query(`INSERT INTO llm_usage (${COLUMNS.join(", ")}) VALUES ${tuples.join(", ")}`, params);
}
