import { randomUUID } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "./canonical.js";

/**
 * An audit event as components submit it, and its normalised form (`AuditEntry`): every field
 * present, strings PostgreSQL can store, a millisecond timestamp, so the values read back from the
 * database are exactly those that were hashed.
 */
export const AUDIT_SOURCES = ["control-plane", "authz-server", "extproc-server", "cli"] as const;
export const AUDIT_DECISIONS = ["allow", "deny"] as const;
export const MAX_DETAILS_BYTES = 16 * 1024;
/** The chain of events no tenant can be attributed to (an unauthenticated caller, an unknown agent). */
export const UNKNOWN_TENANT = "unknown";

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "must be a lower-case slug (a-z, 0-9, _ and -; at most 63)");
const text = (max: number) => z.string().max(max);
const optionalText = (max: number) => text(max).nullish();
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish();

export const auditEventInput = z
  .object({
    event_id: z.string().uuid().optional(),
    tenant: slug,
    occurred_at: z.union([z.string().datetime({ offset: true }), z.date()]).optional(),
    source: z.enum(AUDIT_SOURCES),
    action: z
      .string()
      .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'must look like "object.verb", e.g. "agent.created"'),
    actor: optionalText(512),
    agent_id: z.string().uuid().nullish(),
    agent_spiffe_id: optionalText(2048),
    user_id: optionalText(512),
    delegation_id: optionalText(256),
    decision: z.enum(AUDIT_DECISIONS).nullish(),
    reason: optionalText(2048),
    decision_id: optionalText(256),
    request_id: optionalText(256),
    resource_type: optionalText(128),
    resource_id: optionalText(512),
    upstream: optionalText(2048),
    model: optionalText(256),
    tokens_in: count,
    tokens_out: count,
    /** Cost in millionths of a US dollar: an integer, so it survives the database round trip exactly. */
    cost_micros: count,
    latency_ms: z.number().finite().min(0).nullish(),
    details: z.record(z.unknown()).optional(),
  })
  .strict();

export type AuditEventInput = z.input<typeof auditEventInput>;

export interface AuditEntry {
  event_id: string;
  tenant: string;
  occurred_at: string;
  source: (typeof AUDIT_SOURCES)[number];
  action: string;
  actor: string | null;
  agent_id: string | null;
  agent_spiffe_id: string | null;
  user_id: string | null;
  delegation_id: string | null;
  decision: (typeof AUDIT_DECISIONS)[number] | null;
  reason: string | null;
  decision_id: string | null;
  request_id: string | null;
  resource_type: string | null;
  resource_id: string | null;
  upstream: string | null;
  model: string | null;
  tokens_in: number | null;
  tokens_out: number | null;
  cost_micros: number | null;
  latency_ms: number | null;
  details: Record<string, unknown>;
}

export class InvalidAuditEventError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid audit event: ${problems.join("; ")}`);
    this.name = "InvalidAuditEventError";
  }
}

/** PostgreSQL text and jsonb refuse NUL and lone UTF-16 surrogates; replace them rather than lose the event. */
export function storableString(value: string): string {
  return value
    .split("\u0000")
    .join("\uFFFD")
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

function storable(value: unknown): unknown {
  if (typeof value === "string") return storableString(value);
  if (Array.isArray(value)) return value.map(storable);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableString(k), storable(v)]));
  }
  return value;
}

/** Validates and normalises an event; throws InvalidAuditEventError with every problem. */
export function normalizeAuditEvent(input: unknown, now: () => Date = () => new Date()): AuditEntry {
  const parsed = auditEventInput.safeParse(input);
  if (!parsed.success) {
    throw new InvalidAuditEventError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "event"}: ${i.message}`),
    );
  }
  const e = parsed.data;
  const details = JSON.parse(JSON.stringify(storable(e.details ?? {}))) as Record<string, unknown>;
  if (Buffer.byteLength(canonicalJson(details)) > MAX_DETAILS_BYTES) {
    throw new InvalidAuditEventError([`details: larger than ${MAX_DETAILS_BYTES} bytes`]);
  }
  const str = (value: string | null | undefined): string | null =>
    value == null ? null : storableString(value);
  const occurred = e.occurred_at === undefined ? now() : new Date(e.occurred_at);
  return {
    event_id: (e.event_id ?? randomUUID()).toLowerCase(),
    tenant: e.tenant,
    occurred_at: occurred.toISOString(),
    source: e.source,
    action: e.action,
    actor: str(e.actor),
    agent_id: e.agent_id == null ? null : e.agent_id.toLowerCase(),
    agent_spiffe_id: str(e.agent_spiffe_id),
    user_id: str(e.user_id),
    delegation_id: str(e.delegation_id),
    decision: e.decision ?? null,
    reason: str(e.reason),
    decision_id: str(e.decision_id),
    request_id: str(e.request_id),
    resource_type: str(e.resource_type),
    resource_id: str(e.resource_id),
    upstream: str(e.upstream),
    model: str(e.model),
    tokens_in: e.tokens_in ?? null,
    tokens_out: e.tokens_out ?? null,
    cost_micros: e.cost_micros ?? null,
    latency_ms: e.latency_ms ?? null,
    details,
  };
}
