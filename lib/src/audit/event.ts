import { randomUUID } from "node:crypto";
import { z } from "zod";

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

const SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Longest value of each optional text field. */
const TEXT_LIMITS = {
  actor: 512,
  agent_spiffe_id: 2048,
  user_id: 512,
  delegation_id: 256,
  reason: 2048,
  decision_id: 256,
  request_id: 256,
  resource_type: 128,
  resource_id: 512,
  upstream: 2048,
  model: 256,
} as const;

const TEXT_LIMIT_ENTRIES = Object.entries(TEXT_LIMITS) as [keyof typeof TEXT_LIMITS, number][];

const slug = z.string().regex(SLUG, "must be a lower-case slug (a-z, 0-9, _ and -; at most 63)");
const text = (max: number) => z.string().max(max);
const optionalText = (max: number) => text(max).nullish();
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish();

export const auditEventInput = z
  .object({
    event_id: z.string().uuid().optional(),
    tenant: slug,
    occurred_at: z.union([z.string().datetime({ offset: true }), z.date()]).optional(),
    source: z.enum(AUDIT_SOURCES),
    action: z.string().regex(ACTION, 'must look like "object.verb", e.g. "agent.created"'),
    actor: optionalText(TEXT_LIMITS.actor),
    agent_id: z.string().uuid().nullish(),
    agent_spiffe_id: optionalText(TEXT_LIMITS.agent_spiffe_id),
    user_id: optionalText(TEXT_LIMITS.user_id),
    delegation_id: optionalText(TEXT_LIMITS.delegation_id),
    decision: z.enum(AUDIT_DECISIONS).nullish(),
    reason: optionalText(TEXT_LIMITS.reason),
    decision_id: optionalText(TEXT_LIMITS.decision_id),
    request_id: optionalText(TEXT_LIMITS.request_id),
    resource_type: optionalText(TEXT_LIMITS.resource_type),
    resource_id: optionalText(TEXT_LIMITS.resource_id),
    upstream: optionalText(TEXT_LIMITS.upstream),
    model: optionalText(TEXT_LIMITS.model),
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
// eslint-disable-next-line no-control-regex -- NUL is exactly what PostgreSQL refuses
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/;
export function storableString(value: string): string {
  if (!UNSTORABLE.test(value)) return value;
  return value
    .split("\u0000")
    .join("\uFFFD")
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

/**
 * A storable copy of `details` as it will read back from jsonb: JSON values only (what
 * JSON.stringify drops or turns into null, so does this), strings storable, object keys in sorted
 * order (so hashing takes the fast path). Plain data is copied in one pass; anything else (a Date, a
 * class instance, toJSON) goes through a JSON round trip first.
 */
function storableDetails(value: unknown): unknown {
  const copy = plainCopy(value);
  return copy === NOT_PLAIN ? plainCopy(JSON.parse(JSON.stringify(value)) as unknown) : copy;
}

const NOT_PLAIN = Symbol("not plain JSON data");

function plainCopy(node: unknown): unknown {
  switch (typeof node) {
    case "string":
      return storableString(node);
    case "boolean":
      return node;
    case "number":
      return Number.isFinite(node) ? node : null;
    case "object": {
      if (node === null) return null;
      if (Array.isArray(node)) {
        const out: unknown[] = new Array(node.length);
        for (let i = 0; i < node.length; i++) {
          const item: unknown = node[i];
          const copied = item === undefined || typeof item === "function" ? null : plainCopy(item);
          if (copied === NOT_PLAIN) return NOT_PLAIN;
          out[i] = copied;
        }
        return out;
      }
      const proto: unknown = Object.getPrototypeOf(node);
      if ((proto !== Object.prototype && proto !== null) || "toJSON" in node) return NOT_PLAIN;
      const record = node as Record<string, unknown>;
      const keys = Object.keys(record);
      let storableKeys = keys;
      if (keys.some((k) => UNSTORABLE.test(k))) storableKeys = keys.map(storableString);
      const order = keys.map((_, i) => i);
      order.sort((a, b) =>
        storableKeys[a]! < storableKeys[b]! ? -1 : storableKeys[a]! > storableKeys[b]! ? 1 : 0,
      );
      const out: Record<string, unknown> = {};
      for (const i of order) {
        const member = record[keys[i]!];
        if (member === undefined || typeof member === "function" || typeof member === "symbol") continue;
        const copied = plainCopy(member);
        if (copied === NOT_PLAIN) return NOT_PLAIN;
        out[storableKeys[i]!] = copied;
      }
      return out;
    }
    default:
      // bigint (JSON.stringify throws), symbol, function: the JSON round trip decides.
      return NOT_PLAIN;
  }
}

/** Validates and normalises an event; throws InvalidAuditEventError with every problem. */
export function normalizeAuditEvent(input: unknown, now: () => Date = () => new Date()): AuditEntry {
  const parsed = auditEventInput.safeParse(input);
  if (!parsed.success) {
    throw new InvalidAuditEventError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "event"}: ${i.message}`),
    );
  }
  return finishEntry(parsed.data, now);
}

/**
 * The same normalisation for an event a component builds itself from typed values (authz-server:
 * one per decision), without the schema parse, which costs more than the rest of an append. What
 * the types do not guarantee is still checked: formats, lengths, the size of `details`.
 */
export function normalizeTypedEvent(e: AuditEventInput, now: () => Date = () => new Date()): AuditEntry {
  const problems: string[] = [];
  if (!SLUG.test(e.tenant)) problems.push("tenant: must be a lower-case slug");
  if (!ACTION.test(e.action)) problems.push('action: must look like "object.verb"');
  if (!AUDIT_SOURCES.includes(e.source)) problems.push("source: unknown");
  if (e.decision != null && !AUDIT_DECISIONS.includes(e.decision)) problems.push("decision: unknown");
  if (e.agent_id != null && !UUID.test(e.agent_id)) problems.push("agent_id: must be a uuid");
  if (e.event_id !== undefined && !UUID.test(e.event_id)) problems.push("event_id: must be a uuid");
  for (const [field, max] of TEXT_LIMIT_ENTRIES) {
    const value = e[field];
    if (value != null && value.length > max) problems.push(`${field}: longer than ${max}`);
  }
  if (typeof e.occurred_at === "string") problems.push("occurred_at: pass a Date");
  if (e.latency_ms != null && !(Number.isFinite(e.latency_ms) && e.latency_ms >= 0))
    problems.push("latency_ms: must be a finite number ≥ 0");
  for (const field of ["tokens_in", "tokens_out", "cost_micros"] as const) {
    const value = e[field];
    if (value != null && !(Number.isSafeInteger(value) && value >= 0))
      problems.push(`${field}: must be a count`);
  }
  if (problems.length) throw new InvalidAuditEventError(problems);
  return finishEntry(e as ParsedEvent, now);
}

type ParsedEvent = z.output<typeof auditEventInput>;

function finishEntry(e: ParsedEvent, now: () => Date): AuditEntry {
  const details = storableDetails(e.details ?? {}) as Record<string, unknown>;
  if (Buffer.byteLength(JSON.stringify(details)) > MAX_DETAILS_BYTES) {
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
