import { Counter, Histogram } from "prom-client";
import { GEN_AI_DURATION_BUCKETS, GEN_AI_TOKEN_BUCKETS, GEN_AI_TTFT_BUCKETS } from "./buckets.js";
import { BoundedLabel, hashedUser } from "./labels.js";
import { metricsRegistry } from "./registry.js";

/**
 * LLM metrics under the OpenTelemetry GenAI semantic-convention names (v1.41), as the OTel →
 * Prometheus convention writes them: dots become underscores, a unit in curly braces (`{token}`) adds
 * no suffix, `s` adds `_seconds`. So `gen_ai.client.token.usage` is `gen_ai_client_token_usage`,
 * `gen_ai.client.operation.duration` is `gen_ai_client_operation_duration_seconds`, and the attribute
 * `gen_ai.token.type` is the label `gen_ai_token_type`. Warden adds its own labels (agent, team,
 * tenant), capped per label (labels.ts); the user appears only hashed, and only on the two counters
 * (a user label on a histogram multiplies every bucket).
 */
export const GEN_AI_LABELS = [
  "gen_ai_operation_name",
  "gen_ai_provider_name",
  "gen_ai_request_model",
  "gen_ai_response_model",
  "agent",
  "team",
  "tenant",
] as const;

const tokenUsage = new Histogram({
  name: "gen_ai_client_token_usage",
  help: "Tokens per LLM call (gen_ai.client.token.usage), by gen_ai_token_type input or output.",
  labelNames: [...GEN_AI_LABELS, "gen_ai_token_type"],
  buckets: GEN_AI_TOKEN_BUCKETS,
  registers: [metricsRegistry],
});

const operationDuration = new Histogram({
  name: "gen_ai_client_operation_duration_seconds",
  help: "LLM call duration as the agent saw it through the sidecar (gen_ai.client.operation.duration).",
  labelNames: [...GEN_AI_LABELS, "error_type"],
  buckets: GEN_AI_DURATION_BUCKETS,
  registers: [metricsRegistry],
});

const timeToFirstToken = new Histogram({
  name: "gen_ai_server_time_to_first_token_seconds",
  help: "Streamed LLM calls: time from the request to the first streamed byte (gen_ai.server.time_to_first_token).",
  labelNames: GEN_AI_LABELS,
  buckets: GEN_AI_TTFT_BUCKETS,
  registers: [metricsRegistry],
});

const costUsd = new Counter({
  name: "warden_llm_cost_usd_total",
  help: "LLM spend in US dollars from the versioned price table (calls without a price add nothing).",
  labelNames: ["gen_ai_provider_name", "gen_ai_request_model", "agent", "team", "tenant", "user"],
  registers: [metricsRegistry],
});

const tokensTotal = new Counter({
  name: "warden_llm_tokens_total",
  help: "LLM tokens, by gen_ai_token_type, per agent, team, tenant and (hashed) user.",
  labelNames: ["gen_ai_provider_name", "gen_ai_token_type", "agent", "team", "tenant", "user"],
  registers: [metricsRegistry],
});

const unpriced = new Counter({
  name: "warden_llm_unpriced_calls_total",
  help: "LLM calls whose model has no price in the price table (their cost is not counted).",
  labelNames: ["gen_ai_provider_name", "gen_ai_request_model"],
  registers: [metricsRegistry],
});

/** Our provider names → `gen_ai.provider.name` well-known values. */
const PROVIDER_NAMES: Readonly<Record<string, string>> = {
  openai: "openai",
  anthropic: "anthropic",
  "google-ai": "gcp.gemini",
  "azure-openai": "azure.ai.openai",
};

/** Our operation names (usage/record.ts) → `gen_ai.operation.name` well-known values. */
const OPERATION_NAMES: Readonly<Record<string, string>> = {
  chat: "chat",
  messages: "chat",
  responses: "chat",
  embeddings: "embeddings",
  generate: "generate_content",
};

export interface GenAiCall {
  provider: string;
  operation: string;
  requestedModel: string | null;
  responseModel: string | null;
  agent: string | null;
  team: string | null;
  tenant: string | null;
  userId: string | null;
  stream: boolean;
  inputTokens: number;
  outputTokens: number;
  /** Null: the call was refused or failed; else the error type (semconv `error.type`). */
  errorType: string | null;
  durationSeconds: number;
  /** Streamed calls: seconds to the first streamed byte; null when none came. */
  firstTokenSeconds: number | null;
  /** Null when the price table has no price for the model. */
  costUsd: number | null;
}

const models = new BoundedLabel(200);
const agents = new BoundedLabel(1000);
const teams = new BoundedLabel(200);
const tenants = new BoundedLabel(200);
const users = new BoundedLabel(2000);
const errorTypes = new BoundedLabel(50);

/** Records one finished LLM call (after the exchange: never on the request's way in). */
export function recordGenAiCall(call: GenAiCall): void {
  const provider = PROVIDER_NAMES[call.provider] ?? call.provider;
  const model = models.of(call.requestedModel);
  const base = {
    gen_ai_operation_name: OPERATION_NAMES[call.operation] ?? call.operation,
    gen_ai_provider_name: provider,
    gen_ai_request_model: model,
    gen_ai_response_model: models.of(call.responseModel),
    agent: agents.of(call.agent),
    team: teams.of(call.team),
    tenant: tenants.of(call.tenant),
  };
  operationDuration.observe({ ...base, error_type: errorTypes.of(call.errorType) }, call.durationSeconds);
  if (call.stream && call.firstTokenSeconds !== null) timeToFirstToken.observe(base, call.firstTokenSeconds);
  const who = {
    gen_ai_provider_name: provider,
    agent: base.agent,
    team: base.team,
    tenant: base.tenant,
    user: users.of(hashedUser(call.tenant, call.userId)),
  };
  // Token histograms only for calls that used tokens: a refusal would skew the distribution to 0.
  if (call.inputTokens > 0 || call.outputTokens > 0) {
    tokenUsage.observe({ ...base, gen_ai_token_type: "input" }, call.inputTokens);
    tokenUsage.observe({ ...base, gen_ai_token_type: "output" }, call.outputTokens);
    tokensTotal.inc({ ...who, gen_ai_token_type: "input" }, call.inputTokens);
    tokensTotal.inc({ ...who, gen_ai_token_type: "output" }, call.outputTokens);
  }
  if (call.costUsd !== null) costUsd.inc({ ...who, gen_ai_request_model: model }, call.costUsd);
  else if (call.inputTokens > 0 || call.outputTokens > 0)
    unpriced.inc({ gen_ai_provider_name: provider, gen_ai_request_model: model });
}
