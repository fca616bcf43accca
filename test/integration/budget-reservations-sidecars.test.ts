import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS_DIR } from "../../control-plane/src/files.js";
import { providerDestinations, type Destination } from "../../lib/src/envoy/bootstrap.js";
import { migrate } from "../../lib/src/db/migrate.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { extprocLogin } from "../harness/control-plane.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { RUN_DIR, TEARDOWN_TIMEOUT_MS, waitFor } from "../harness/process.js";
import { startStack, type Stack } from "../harness/stack.js";
import { EXTPROC_SPIFFE_ID, startVaultTls, type VaultTls } from "../harness/vault-tls.js";
import { startOpenAiStub } from "../stubs/llm-openai.js";
import type { LlmStub } from "../stubs/llm-stub-server.js";
import { writePolicyDir } from "../support/fixture-policy.js";
import { extprocVaultLogin } from "../support/extproc-vault-login.js";

/**
 * One hard budget driven by three sidecars at once, each its own real Envoy, authz-server and
 * extproc-server, all on one PostgreSQL: every call reserves its worst case (max_tokens) before it
 * goes upstream and settles at its real cost, so the spend recorded in `llm_usage` never passes
 * the limit while the calls cost at most what they reserved.
 */
const OPENAI_KEY = "sk-vault-acme-openai-budget-3c9e1a";
const SIDECARS = 3;
const IN_FLIGHT_PER_SIDECAR = 6;
const CALLS_PER_WORKER = 5;
const PICO_PER_USD = 1_000_000_000_000n;
/** $0.01: room for about 20 calls at their worst case, so most of the 90 calls are refused. */
const LIMIT_MICROS = 10_000n;
const MAX_TOKENS = 5;
// Dear output on purpose: a call's worst case is about $0.0005, its real cost $0.0001–0.0005.
const PRICES = {
  version: "budget-sidecars-1",
  currency: "USD",
  unit: "per_million_tokens",
  providers: { openai: { "gpt-4o-mini*": { input: "1", output: "100" } } },
};

const POLICY = `package warden.authz

default decision := {"allow": false, "status": 403, "reason": "no_rule_allows", "headers": {}, "metadata": {}}

decision := {"allow": true, "status": 200, "reason": "allowed", "headers": {}, "metadata": {"rule": "llm"}} if {
	input.destination.kind == "llm"
}
`;

let cluster: PostgresCluster;
let owner: Database;
let vault: VaultTls;
let stub: LlmStub;
const stacks: Stack[] = [];

beforeAll(async () => {
  cluster = await startPostgres();
  const databaseUrl = await cluster.createDatabase("budgets");
  owner = createPostgresDatabase(databaseUrl, { max: 2 });
  await migrate(owner, MIGRATIONS_DIR);
  await owner.query(
    `INSERT INTO llm_budgets (tenant, scope, subject, period, limit_micros, enforcement, created_by)
     VALUES ('acme', 'tenant', 'acme', 'daily', $1, 'hard', 'test')`,
    [LIMIT_MICROS.toString()],
  );
  const extprocUrl = await extprocLogin(cluster, databaseUrl);
  vault = await startVaultTls("budget-sidecars");
  const login = await vault.addCertRole("extproc", EXTPROC_SPIFFE_ID, ["extproc.hcl"]);
  await vault.putLlmKey("acme", "openai", OPENAI_KEY);
  stub = await startOpenAiStub({ validKeys: () => [OPENAI_KEY] });
  const work = join(RUN_DIR, `budget-sidecars-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const prices = join(work, "prices.json");
  writeFileSync(prices, JSON.stringify(PRICES));
  chmodSync(prices, 0o644);
  const policyDir = writePolicyDir(
    "budget-sidecars-policy",
    { file: "llm.rego", source: POLICY },
    {
      services: { openai: { kind: "llm", hosts: ["api.openai.com"] } },
    },
  );
  for (let s = 0; s < SIDECARS; s++) {
    stacks.push(
      await startStack({
        name: `budget-sidecar-${s}`,
        policyDir,
        destinations: () =>
          providerDestinations()
            .filter((destination) => destination.service === "openai")
            .map((destination): Destination => ({
              ...destination,
              upstream: { address: "127.0.0.1", port: stub.port, tls: false },
            })),
        extprocEnv: {
          ...extprocVaultLogin(vault, login),
          WARDEN_DEFAULT_TENANT: "acme",
          DATABASE_URL: extprocUrl,
          WARDEN_LLM_PRICES: prices,
          WARDEN_USAGE_SPOOL: join(work, `spool-${s}.ndjson`),
          WARDEN_INSTANCE_ID: `budget-sidecar-${s}`,
        },
      }),
    );
  }
}, 300_000);

afterAll(async () => {
  for (const stack of stacks) await stack.stop().catch(() => undefined);
  await Promise.all([stub?.close(), vault?.stop()]);
  await owner?.close();
  await cluster?.destroy();
}, TEARDOWN_TIMEOUT_MS);

interface Answer {
  status: number;
  code: string | null;
}

/**
 * A streamed chat call capped at MAX_TOKENS; the stub streams 1–5 tokens, 20 ms apart, and reports
 * `inputTokens` prompt tokens (8: at most what the reservation counts for the prompt, the
 * tokenizer's 7 plus its margin).
 */
async function chat(stack: Stack, events: number, inputTokens = 8): Promise<Answer> {
  const response = await fetch(`${stack.agentUrl}/openai/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: "Bearer sk-placeholder",
      "x-stub-events": String(events),
      "x-stub-interval-ms": "20",
      "x-stub-input-tokens": String(inputTokens),
    },
    body: JSON.stringify({
      model: "gpt-4o-mini",
      stream: true,
      max_tokens: MAX_TOKENS,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
  const text = await response.text();
  if (response.status === 200) return { status: 200, code: null };
  const body = JSON.parse(text) as { error?: { code?: string } };
  return { status: response.status, code: body.error?.code ?? null };
}

/** Every worker of every sidecar makes CALLS_PER_WORKER calls, one after the other. */
async function drive(inputTokens?: number, fullOutput = false): Promise<{ answers: Answer[]; ms: number }> {
  const answers: Answer[] = [];
  const worker = async (stack: Stack, w: number) => {
    for (let i = 0; i < CALLS_PER_WORKER; i++)
      answers.push(await chat(stack, fullOutput ? MAX_TOKENS : 1 + ((w + i) % MAX_TOKENS), inputTokens));
  };
  const started = Date.now();
  await Promise.all(
    stacks.flatMap((stack) => Array.from({ length: IN_FLIGHT_PER_SIDECAR }, (_, w) => worker(stack, w))),
  );
  return { answers, ms: Date.now() - started };
}

async function usageRows(): Promise<number> {
  const { rows } = await owner.query<{ n: string }>(
    "SELECT count(*)::text AS n FROM llm_usage WHERE tenant = 'acme'",
  );
  return Number(rows[0]!.n);
}

const usd = (pico: bigint) => Number(pico) / Number(PICO_PER_USD);

async function spentPico(): Promise<bigint> {
  const { rows } = await owner.query<{ spent: string }>(
    "SELECT COALESCE(sum(cost_pico_usd), 0)::text AS spent FROM llm_usage WHERE tenant = 'acme'",
  );
  return BigInt(rows[0]!.spent);
}

describe("one budget, three sidecars", () => {
  test("calls are refused with 402 once what is spent and reserved fills the budget; the spend never passes the limit", async () => {
    const { answers, ms } = await drive();
    const admitted = answers.filter((answer) => answer.status === 200).length;
    const refused = answers.filter((answer) => answer.status === 402);
    expect(admitted + refused.length).toBe(answers.length);
    expect(refused.every((answer) => answer.code === "budget_exceeded")).toBe(true);
    expect(admitted).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    // Every admitted call's usage row is stored (the writer flushes within a second or so).
    await waitFor("a usage row per call", async () => (await usageRows()) === answers.length, 15_000);
    const spent = await spentPico();
    const limit = LIMIT_MICROS * 1_000_000n;
    const overshoot = spent > limit ? spent - limit : 0n;
    const { rows: counter } = await owner.query<{ spent: string; reserved: string }>(
      "SELECT spent_pico::text AS spent, reserved_pico::text AS reserved FROM budget_counters",
    );
    console.log(
      `${SIDECARS} sidecars × ${IN_FLIGHT_PER_SIDECAR} in flight, ${answers.length} calls in ${ms} ms: ` +
        `${admitted} admitted, ${refused.length} refused (402); spent $${Number(spent) / Number(PICO_PER_USD)} ` +
        `of $${Number(limit) / Number(PICO_PER_USD)}; overshoot $${Number(overshoot) / Number(PICO_PER_USD)}; ` +
        `counter spent ${counter[0]?.spent} reserved ${counter[0]?.reserved} (pico)`,
    );
    expect(overshoot).toBe(0n);
    // The shared counter agrees with the usage rows, and nothing stays reserved.
    expect(counter).toEqual([{ spent: spent.toString(), reserved: "0" }]);
    // The refusals are recorded as today's in-memory ones are: not forwarded, 402, budget_exceeded.
    const { rows: refusalRows } = await owner.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM llm_usage
        WHERE tenant = 'acme' AND status = 402 AND error_code = 'budget_exceeded' AND outcome = 'not_forwarded'`,
    );
    expect(Number(refusalRows[0]!.n)).toBe(refused.length);
  }, 120_000);

  test("a limit raised mid-period applies at once; prompts above the estimate overshoot by no more than the bound", async () => {
    const before = await usageRows();
    const spentBefore = await spentPico();
    const raised = LIMIT_MICROS * 2n;
    await owner.query("UPDATE llm_budgets SET limit_micros = $1, version = version + 1", [raised.toString()]);
    await owner.query("SELECT pg_notify('warden_budgets', '{}')");
    // Each call's prompt is 100 tokens where the reservation counted 9: it costs up to
    // (100 - 9) × $0.000001 more than it reserved.
    const PROMPT = 100;
    const shortfallPico = BigInt(PROMPT - 9) * 1_000_000n;
    await waitFor(
      "the raised limit to admit a call",
      async () => (await chat(stacks[0]!, 1, PROMPT)).status === 200,
      10_000,
    );
    // Every call also uses its whole output cap: nothing in the reservation is left to absorb the prompt.
    const { answers, ms } = await drive(PROMPT, true);
    const admitted = answers.filter((answer) => answer.status === 200).length;
    expect(answers.every((answer) => answer.status === 200 || answer.code === "budget_exceeded")).toBe(true);
    expect(admitted).toBeGreaterThan(0);
    await waitFor(
      "a usage row per call",
      async () => (await usageRows()) >= before + answers.length + 1,
      15_000,
    );
    const spent = await spentPico();
    const limit = raised * 1_000_000n;
    const overshoot = spent > limit ? spent - limit : 0n;
    const bound = BigInt(SIDECARS * IN_FLIGHT_PER_SIDECAR) * shortfallPico;
    console.log(
      `prompts above the estimate: ${answers.length} calls in ${ms} ms, ${admitted} admitted; spent $${usd(spent - spentBefore)} more, ` +
        `$${usd(spent)} of $${usd(limit)}; overshoot $${usd(overshoot)}, bound $${usd(bound)} ` +
        `(${SIDECARS * IN_FLIGHT_PER_SIDECAR} in flight × $${usd(shortfallPico)} above the reservation each)`,
    );
    expect(overshoot).toBeLessThanOrEqual(bound);
  }, 120_000);

  test("PostgreSQL unreachable for a budgeted call: 503 JSON with the reason, nothing forwarded (fail closed)", async () => {
    const forwarded = stub.requests.length;
    // The sidecars' login stops working and their connections are cut: the store is out of reach.
    await cluster.sql("ALTER ROLE warden_extproc_login NOLOGIN");
    await cluster.sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'warden_extproc_login'",
    );
    try {
      const response = await fetch(`${stacks[1]!.agentUrl}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-placeholder" },
        body: JSON.stringify({
          model: "gpt-4o-mini",
          max_tokens: 5,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(response.status).toBe(503);
      expect(body.error).toMatchObject({
        code: "unavailable",
        message: expect.stringMatching(/^the shared budget store \(PostgreSQL\) cannot be reached/),
      });
      expect(stub.requests.length).toBe(forwarded);
    } finally {
      await cluster.sql("ALTER ROLE warden_extproc_login LOGIN");
    }
  }, 60_000);
});
