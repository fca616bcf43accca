import { recordGenAiCall } from "../../../lib/src/metrics/gen-ai.js";
import type { PricedUsageRecord, PricedUsageSink } from "../usage/record.js";

const PICO_PER_USD = 1e12;

/** The GenAI metrics of one priced usage record (lib/src/metrics/gen-ai.ts), then the record on. */
export function meteredUsageSink(sink: PricedUsageSink): PricedUsageSink {
  return {
    record(record) {
      // A metric must never cost a record: one that cannot be recorded is dropped.
      try {
        recordGenAiCall(genAiCallOf(record));
      } catch {
        // dropped
      }
      sink.record(record);
    },
  };
}

export function genAiCallOf(record: PricedUsageRecord) {
  const failed = record.errorCode ?? (record.status >= 400 ? String(record.status) : null);
  return {
    provider: record.provider,
    operation: record.operation,
    requestedModel: record.requestedModel,
    responseModel: record.responseModel,
    agent: agentName(record.agentSpiffeId),
    team: record.team,
    tenant: record.tenant,
    userId: record.userId,
    stream: record.stream,
    // Input as the GenAI conventions count it: every prompt token, cached or not.
    inputTokens: record.usage.inputTokens + record.usage.cachedInputTokens + record.usage.cacheWriteTokens,
    outputTokens: record.usage.outputTokens,
    errorType: failed ?? (record.outcome === "cut" ? "cut" : null),
    durationSeconds: record.latencyMs / 1000,
    firstTokenSeconds: record.timeToFirstByteMs === null ? null : record.timeToFirstByteMs / 1000,
    costUsd: record.costPicoUsd === null ? null : Number(record.costPicoUsd) / PICO_PER_USD,
  };
}

/** `spiffe://td/agent/<name>` → `<name>`: the label stays short and readable (null: unknown). */
export function agentName(spiffeId: string | null): string | null {
  if (!spiffeId) return null;
  const slash = spiffeId.lastIndexOf("/");
  return slash >= 0 ? spiffeId.slice(slash + 1) : spiffeId;
}
