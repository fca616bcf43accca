import { normalizeTypedEvent } from "../../../lib/src/audit/event.js";
import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { BudgetBook } from "../budgets/budget-book.js";
import { UsageAccounting } from "./accounting.js";
import { PriceTable } from "./prices.js";
import { NO_TOKENS, type PricedUsageRecord, type UsageRecord } from "./record.js";
import { usageAuditEvent, usageRowOf } from "./usage-event.js";

const prices = PriceTable.fromJson({
  version: "2025-07-01",
  currency: "USD",
  unit: "per_million_tokens",
  providers: { openai: { "gpt-4o-mini*": { input: "0.15", cached_input: "0.075", output: "0.60" } } },
});

const base: UsageRecord = {
  decisionId: "dec-1",
  startedAt: "2025-07-14T10:00:00.000Z",
  agentSpiffeId: "spiffe://warden.local/agent/bot",
  agentId: "agt-bot",
  tenant: "acme",
  team: "support",
  userId: "alice",
  delegationId: null,
  provider: "openai",
  operation: "chat",
  requestedModel: "fast",
  model: "gpt-4o-mini",
  responseModel: "gpt-4o-mini-2024-07-18",
  stream: true,
  status: 200,
  errorCode: null,
  outcome: "completed",
  usage: {
    inputTokens: 1000,
    cachedInputTokens: 100,
    cacheWriteTokens: 0,
    outputTokens: 20,
    reasoningTokens: 0,
  },
  usageSource: "stream",
  latencyMs: 12.5,
  timeToFirstByteMs: 3.25,
};

function account(record: UsageRecord, book: BudgetBook | null = null): PricedUsageRecord {
  const out: PricedUsageRecord[] = [];
  new UsageAccounting({
    prices,
    sink: { record: (r) => out.push(r) },
    recordedBy: "x1",
    budgets: book,
    now: () => new Date(base.startedAt),
  }).record(record);
  return out[0]!;
}

describe("usage accounting", () => {
  test("a record is priced exactly from the table and numbered", () => {
    const priced = account(base);
    // 1000*0.15 + 100*0.075 + 20*0.60 = 169.5 $/M → 169_500_000 pico
    expect(priced).toMatchObject({
      costPicoUsd: 169_500_000n,
      priceVersion: "2025-07-01",
      priceKey: "gpt-4o-mini*",
      recordedBy: "x1",
      recordSeq: 1,
    });
  });

  test("a model the table does not know is flagged with a null cost, never dropped", () => {
    expect(account({ ...base, model: "o9", responseModel: null })).toMatchObject({
      costPicoUsd: null,
      priceKey: null,
    });
    expect(account({ ...base, model: "my-deployment" })).toMatchObject({ priceKey: "gpt-4o-mini*" });
  });

  test("the cost is charged to the budgets of the call's tenant", () => {
    const book = new BudgetBook();
    const day = new Date(base.startedAt);
    book.resync(
      [
        {
          id: "t",
          tenant: "acme",
          scope: "tenant",
          subject: "acme",
          period: "daily",
          limitMicros: 1n,
          enforcement: "hard",
        },
      ],
      new Map(),
      0,
      day,
    );
    const priced = account(base, book);
    expect(priced.recordSeq).toBe(book.lastSeq);
    expect(book.statuses(day)[0]?.spentPico).toBe(169_500_000n);
  });
});

describe("the usage audit event and its row", () => {
  test("the event carries identity, model, tokens and cost; the row comes back from it", () => {
    const priced = account(base);
    const entry = normalizeTypedEvent(usageAuditEvent(priced));
    expect(entry).toMatchObject({
      tenant: "acme",
      source: "extproc-server",
      action: "llm.request",
      decision: "allow",
      agent_id: null, // not a registry uuid: kept in the details
      model: "gpt-4o-mini",
      tokens_in: 1100,
      tokens_out: 20,
      cost_micros: 170,
      decision_id: "dec-1",
    });
    const record = {
      ...entry,
      id: 1,
      chain_seq: 1,
      recorded_at: entry.occurred_at,
      prev_hash: "",
      hash: "",
    } as AuditRecord;
    const row = usageRowOf(JSON.parse(JSON.stringify(record)) as AuditRecord);
    expect(row).toEqual([
      entry.event_id,
      "acme",
      "2025-07-14T10:00:00.000Z",
      "agt-bot",
      "spiffe://warden.local/agent/bot",
      "support",
      "alice",
      null,
      "dec-1",
      "openai",
      "chat",
      "fast",
      "gpt-4o-mini",
      "gpt-4o-mini-2024-07-18",
      true,
      "completed",
      200,
      null,
      1000,
      100,
      0,
      20,
      0,
      "stream",
      "169500000",
      "2025-07-01",
      12.5,
      3.25,
      "x1",
      1,
    ]);
  });

  test("a refused call is a deny event; a call without a tenant is recorded under 'unknown'", () => {
    const refused = account({
      ...base,
      tenant: null,
      status: 402,
      errorCode: "budget_exceeded",
      outcome: "not_forwarded",
      usage: NO_TOKENS,
    });
    expect(normalizeTypedEvent(usageAuditEvent(refused))).toMatchObject({
      tenant: "unknown",
      decision: "deny",
      reason: "budget_exceeded",
      cost_micros: 0,
    });
  });

  test("other audit events have no usage row; a malformed usage payload is an error, not a silent skip", () => {
    const other = { action: "agent.created", details: {} } as unknown as AuditRecord;
    expect(usageRowOf(other)).toBeNull();
    const broken = {
      action: "llm.request",
      event_id: "e",
      details: { llm_usage: { costPicoUsd: 1.5 } },
    } as unknown as AuditRecord;
    expect(() => usageRowOf(broken)).toThrow(/malformed/);
  });
});
