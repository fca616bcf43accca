import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PeerCertificate } from "node:tls";
import OpenAI, { AzureOpenAI } from "openai";
import Anthropic from "@anthropic-ai/sdk";
import {
  azureOpenAiDestination,
  providerDestinations,
  type Destination,
} from "../../lib/src/envoy/bootstrap.js";
import { startControlPlaneProcess, type ControlPlaneProcess } from "../harness/control-plane.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { REPO_ROOT, stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { approvedAgent, registrySnapshot } from "../harness/registry-snapshot.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../harness/spire.js";
import { startStack, WORKLOAD_UIDS, type Stack } from "../harness/stack.js";
import { EXTPROC_SPIFFE_ID, startVaultTls, type VaultTls } from "../harness/vault-tls.js";
import { startAnthropicStub } from "../stubs/llm-anthropic.js";
import { startGoogleAiStub } from "../stubs/llm-google.js";
import { startAzureOpenAiStub, startOpenAiStub } from "../stubs/llm-openai.js";
import type { LlmStub, RecordedRequest, ReportedUsage } from "../stubs/llm-stub-server.js";
import { StubOidcIssuer } from "../stubs/oidc-issuer.js";
import { svidFetch } from "../agents/svid-fetch.js";
import { extprocVaultLogin } from "../support/extproc-vault-login.js";

/**
 * All real but the providers: an agent with a SPIRE SVID calls through Envoy
 * (mTLS), authz-server decides with the shipped policy (policies/: model allow-lists, aliases),
 * extproc-server takes the tenant's keys from OpenBao (TLS cert auth), records one usage row per call
 * in PostgreSQL (as the `warden_extproc` role) and enforces budgets the control plane (a real
 * process) manages. Four stub providers: OpenAI, Anthropic, Google AI, Azure OpenAI.
 */
const TD = "warden.local";
const AGENT = `spiffe://${TD}/agent/finance-bot`;
const AGENT_ID = "5d0c8d5e-8a7e-4c1e-9a57-2f4b1c9e7a10";
const PLACEHOLDER = "sk-placeholder-the-agent-holds-nothing";
const KEYS = {
  openai: "sk-vault-acme-openai-acceptance-4c1d9e",
  anthropic: "sk-ant-vault-acme-acceptance-7b2f0a",
  "google-ai": "AIza-vault-acme-google-acceptance-91e3",
  "azure-openai": "azure-vault-acme-acceptance-5f8c2d",
} as const;
type Provider = keyof typeof KEYS;
const AZURE_DEPLOYMENT = "gpt-4o-mini";

// Odd prices on purpose: an exact integer cost cannot hide behind rounding.
const PRICE_TABLE = {
  version: "acceptance-2025-07",
  currency: "USD",
  unit: "per_million_tokens",
  providers: {
    openai: {
      "gpt-4o-mini*": { input: "0.150001", cached_input: "0.075003", output: "0.600007" },
      "gpt-4o*": { input: "2.5", cached_input: "1.25", output: "10" },
    },
    "azure-openai": { "gpt-4o-mini*": { input: "0.165", cached_input: "0.0825", output: "0.66" } },
    anthropic: {
      "claude-3-5-haiku*": { input: "0.8", cached_input: "0.08", cache_write: "1", output: "4.000009" },
      "claude-sonnet-4*": { input: "3", cached_input: "0.3", cache_write: "3.75", output: "15" },
    },
    "google-ai": { "gemini-2.0-flash*": { input: "0.1", cached_input: "0.025", output: "0.400003" } },
  },
} as const;

/** The test's own reading of the price table: pico-dollars per token, by prefix. */
function expectedCost(provider: Provider, model: string, usage: ReportedUsage): bigint | null {
  const table = PRICE_TABLE.providers[provider] as Record<string, Record<string, string>>;
  const entry = Object.entries(table)
    .filter(([key]) => model.startsWith(key.replace(/\*$/, "")))
    .sort(([a], [b]) => b.length - a.length)[0]?.[1];
  if (!entry) return null;
  const pico = (usd: string | undefined) => {
    const [whole, fraction = ""] = (usd ?? entry.input!).split(".");
    return BigInt(whole!) * 1_000_000n + BigInt(fraction.padEnd(6, "0"));
  };
  return (
    BigInt(usage.input) * pico(entry.input) +
    BigInt(usage.cached) * pico(entry.cached_input) +
    BigInt(usage.cacheWrite) * pico(entry.cache_write) +
    BigInt(usage.output) * pico(entry.output)
  );
}

let cluster: PostgresCluster;
let databaseName: string;
let oidc: StubOidcIssuer;
let controlPlane: ControlPlaneProcess;
let adminToken: string;
let vault: VaultTls;
let spire: SpireStack;
let stack: Stack;
let work: string;
let tls: Agent;
const stubs = {} as Record<Provider, LlmStub>;
/** Every header and body byte the agent received, for the key scan. */
const agentSaw: string[] = [];

async function sql<Row extends Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
): Promise<Row[]> {
  return cluster.sql<Row>(text, params, databaseName);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wllm-"));
  chmodSync(work, 0o755);

  cluster = await startPostgres();
  const databaseUrl = await cluster.createDatabase("llm");
  databaseName = new URL(databaseUrl).pathname.slice(1);
  oidc = await StubOidcIssuer.start();
  controlPlane = await startControlPlaneProcess({
    name: "llm-acceptance-cp",
    databaseUrl,
    oidcIssuer: oidc.issuer,
  });
  adminToken = await oidc.token({ sub: "fiona-finance", roles: ["admin"] });
  // Migration 005's role, as production gives it to extproc-server.
  await cluster.sql("CREATE ROLE acceptance_extproc LOGIN IN ROLE warden_extproc");
  const extprocDatabaseUrl = new URL(databaseUrl);
  extprocDatabaseUrl.username = "acceptance_extproc";

  vault = await startVaultTls("llm-acceptance");
  const login = await vault.addCertRole("extproc", EXTPROC_SPIFFE_ID, ["extproc.hcl"]);
  for (const [provider, key] of Object.entries(KEYS)) await vault.putLlmKey("acme", provider, key);
  // extproc-server runs under its own uid with SPIRE: it must read its Vault login and write its spool.
  chownSync(login.keyFile, WORKLOAD_UIDS.extproc, -1);
  for (const file of [login.certFile, vault.caFile]) chmodSync(file, 0o644);
  const spool = join(work, "spool");
  mkdirSync(spool);
  chownSync(spool, WORKLOAD_UIDS.extproc, -1);
  const pricesFile = join(work, "prices.json");
  writeFileSync(pricesFile, JSON.stringify(PRICE_TABLE));
  chmodSync(pricesFile, 0o644);
  const registry = join(work, "registry.json");
  writeFileSync(
    registry,
    registrySnapshot(
      approvedAgent({
        name: "finance-bot",
        id: AGENT_ID,
        spiffeId: AGENT,
        issuedAtNs: (Date.now() - 60_000) * 1e6,
        expiresAtNs: (Date.now() + 86_400_000) * 1e6,
      }),
    ),
  );
  chmodSync(registry, 0o644);

  const valid = (provider: Provider) => () => [KEYS[provider]];
  stubs.openai = await startOpenAiStub({ validKeys: valid("openai") });
  stubs.anthropic = await startAnthropicStub({ validKeys: valid("anthropic") });
  stubs["google-ai"] = await startGoogleAiStub({ validKeys: valid("google-ai") });
  stubs["azure-openai"] = await startAzureOpenAiStub({
    validKeys: valid("azure-openai"),
    deployments: { [AZURE_DEPLOYMENT]: "gpt-4o-mini" },
  });

  spire = await startSpire({ name: "llm-acceptance-spire", trustDomain: TD });
  await spire.register(AGENT, [currentProcessSelector()]);
  stack = await startStack({
    name: "llm-acceptance",
    spire,
    policyDir: join(REPO_ROOT, "policies"),
    authzEnv: { WARDEN_REGISTRY_FILE: registry },
    destinations: () =>
      [...providerDestinations(), azureOpenAiDestination("acme.openai.azure.com")]
        .filter((destination) => destination.service in KEYS)
        .map((destination): Destination => ({
          ...destination,
          upstream: { address: "127.0.0.1", port: stubs[destination.service as Provider].port, tls: false },
        })),
    extprocEnv: {
      ...extprocVaultLogin(vault, login),
      WARDEN_LLM_KEY_CACHE_TTL_MS: "1000",
      WARDEN_LLM_KEY_MAX_STALE_MS: "0",
      DATABASE_URL: extprocDatabaseUrl.toString(),
      WARDEN_LLM_PRICES: pricesFile,
      WARDEN_USAGE_SPOOL: join(spool, "usage.ndjson"),
      WARDEN_BUDGET_RESYNC_MS: "1000",
    },
  });
  const svid = await spire.waitForSvid(AGENT);
  const envoyId = stack.identities!.envoy;
  tls = new Agent({
    cert: svid.certChainPem,
    key: svid.keyPem,
    ca: svid.bundlesPem[TD],
    keepAlive: true,
    maxSockets: 16,
    // The sidecar is checked by its SPIFFE ID (a URI SAN), not a host name.
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      cert.subjectaltname?.split(", ").includes(`URI:${envoyId}`) ? undefined : new Error(`not ${envoyId}`),
  });
}, 240_000);

afterAll(async () => {
  tls?.destroy();
  await stack?.stop();
  await spire?.stop();
  await Promise.all(Object.values(stubs).map((stub) => stub.close()));
  await vault?.stop();
  await controlPlane?.stop();
  await oidc?.close();
  await cluster?.destroy();
  await stopAll();
  if (work) rmSync(work, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

// ---------------------------------------------------------------------------------------------
// The agent's side: HTTPS with its SVID, nothing else.

/** Records all the agent receives, headers and body, for the final leak scan. */
function recordWhatTheAgentSaw(res: IncomingMessage): void {
  for (const [name, value] of Object.entries(res.headers)) agentSaw.push(`${name}: ${String(value)}`);
  res.on("data", (chunk: Buffer) => agentSaw.push(chunk.toString("utf8")));
}

/** The official SDKs' `fetch`: mTLS with the agent's SVID (the agent is set up in beforeAll). */
const agentFetch: typeof fetch = (input, init) => svidFetch(tls, recordWhatTheAgentSaw)(input, init);

/** What the official SDKs are given: the sidecar's route, a placeholder key, the agent's fetch, no retries. */
function sdkOptions(route: string) {
  return { baseURL: `${stack.agentUrl}${route}`, apiKey: PLACEHOLDER, fetch: agentFetch, maxRetries: 0 };
}

interface Answer {
  status: number;
  body: string;
  decisionId: string | null;
  /** The connection ended before the response did (a cut stream). */
  cut: boolean;
}

/** One raw call; `cutAfterEvents` makes the agent hang up after that many SSE events. */
function callSidecar(
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; cutAfterEvents?: number } = {},
): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = request(
      `${stack.agentUrl}${path}`,
      {
        method: "POST",
        agent: tls,
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${PLACEHOLDER}`,
          ...options.headers,
        },
      },
      (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        let events = 0;
        const done = (cut: boolean) => {
          if (settled) return;
          settled = true;
          const body = Buffer.concat(parts).toString("utf8");
          agentSaw.push(JSON.stringify(res.headers), body);
          resolve({
            status: res.statusCode ?? 0,
            body,
            decisionId: (res.headers["x-warden-decision-id"] as string | undefined) ?? null,
            cut,
          });
        };
        res.on("data", (chunk: Buffer) => {
          parts.push(chunk);
          events += chunk.toString("utf8").split(/\r?\n\r?\n/).length - 1;
          if (options.cutAfterEvents !== undefined && events >= options.cutAfterEvents) {
            done(true);
            req.destroy();
          }
        });
        res.on("error", () => undefined);
        // An upstream cut reaches the agent as a connection closed before the body's end.
        res.on("close", () => done(!res.complete));
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error("timed out")));
    req.on("error", (error) => {
      if (!settled) {
        settled = true;
        reject(error);
      }
    });
    req.end(payload);
  });
}

function stubRequestFor(provider: Provider, decisionId: string): RecordedRequest | undefined {
  return stubs[provider].requests.find((r) => r.headers["x-warden-decision-id"] === decisionId);
}

function forwardedCount(): number {
  return Object.values(stubs).reduce((sum, stub) => sum + stub.requests.length, 0);
}

interface UsageRow extends Record<string, unknown> {
  decision_id: string;
  tenant: string;
  agent_id: string | null;
  agent_spiffe_id: string | null;
  team: string | null;
  provider: string;
  requested_model: string | null;
  model: string | null;
  stream: boolean;
  outcome: string;
  status: number;
  error_code: string | null;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  usage_source: string;
  cost_pico_usd: string | null;
  price_version: string | null;
}

// Counts as numbers, the cost as exact text (the test's raw client returns int8 as text).
const USAGE_SELECT = `SELECT *, status::int AS status, input_tokens::int AS input_tokens,
  cached_input_tokens::int AS cached_input_tokens, cache_write_tokens::int AS cache_write_tokens,
  output_tokens::int AS output_tokens, cost_pico_usd::text AS cost_pico_usd FROM llm_usage`;

async function usageRow(decisionId: string): Promise<UsageRow> {
  let row: UsageRow | undefined;
  await waitFor(
    `usage row of ${decisionId}`,
    async () => {
      [row] = await sql<UsageRow>(`${USAGE_SELECT} WHERE decision_id = $1`, [decisionId]);
      return row !== undefined;
    },
    10_000,
  );
  return row!;
}

// ---------------------------------------------------------------------------------------------

describe("the four providers through the real data plane", () => {
  test("the OpenAI SDK with a placeholder key and an alias: the policy resolves it, the provider sees the Vault key", async () => {
    const client = new OpenAI(sdkOptions("/openai/v1"));
    const { data, response } = await client.chat.completions
      .create({ model: "fast", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("Hello from the stub.");
    const decisionId = response.headers.get("x-warden-decision-id")!;
    const seen = stubRequestFor("openai", decisionId)!;
    expect(seen.headers.authorization).toBe(`Bearer ${KEYS.openai}`);
    expect(JSON.parse(seen.body)).toMatchObject({ model: "gpt-4o-mini" });
    expect(await usageRow(decisionId)).toMatchObject({
      tenant: "acme",
      agent_id: AGENT_ID,
      agent_spiffe_id: AGENT,
      team: "engineering",
      requested_model: "fast",
      model: "gpt-4o-mini",
      outcome: "completed",
      price_version: PRICE_TABLE.version,
    });
  });

  test("the OpenAI SDK's models.list() names no model: the shipped policy decides it on route and identity", async () => {
    const client = new OpenAI(sdkOptions("/openai/v1"));
    const { data, response } = await client.models.list().withResponse();
    expect(response.status).toBe(200);
    expect(data.data.length).toBeGreaterThan(0);
    const seen = stubRequestFor("openai", response.headers.get("x-warden-decision-id")!)!;
    expect(seen.headers.authorization).toBe(`Bearer ${KEYS.openai}`);
  });

  test("the Anthropic SDK streams through, its usage read from message_start/message_delta", async () => {
    const client = new Anthropic(sdkOptions("/anthropic"));
    const { data: stream, response } = await client.messages
      .create(
        {
          model: "claude-sonnet-4-20250514",
          max_tokens: 64,
          stream: true,
          messages: [{ role: "user", content: "hi" }],
        },
        { headers: { "x-stub-events": "4", "x-stub-input-tokens": "321", "x-stub-cached-tokens": "21" } },
      )
      .withResponse();
    let text = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
    }
    expect(text).toBe("w0 w1 w2 w3 ");
    const row = await usageRow(response.headers.get("x-warden-decision-id")!);
    expect(row).toMatchObject({ stream: true, input_tokens: 300, cached_input_tokens: 21, output_tokens: 4 });
    expect(BigInt(row.cost_pico_usd!)).toBe(
      expectedCost("anthropic", "claude-sonnet-4", { input: 300, cached: 21, cacheWrite: 0, output: 4 }),
    );
  });

  test("Azure OpenAI (the SDK's AzureOpenAI client): the deployment in the path, the key in api-key", async () => {
    const client = new AzureOpenAI({
      endpoint: `${stack.agentUrl}/azure-openai`,
      apiKey: PLACEHOLDER,
      apiVersion: "2024-10-21",
      deployment: AZURE_DEPLOYMENT,
      fetch: agentFetch,
      maxRetries: 0,
    });
    const { data, response } = await client.chat.completions
      .create({ model: AZURE_DEPLOYMENT, messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("Hello from the stub.");
    const decisionId = response.headers.get("x-warden-decision-id")!;
    const seen = stubRequestFor("azure-openai", decisionId)!;
    expect(seen.path).toMatch(/^\/openai\/deployments\/gpt-4o-mini\/chat\/completions\?api-version=/);
    expect(seen.headers["api-key"]).toBe(KEYS["azure-openai"]);
    expect(seen.headers.authorization).toBeUndefined();
    expect(await usageRow(decisionId)).toMatchObject({
      provider: "azure-openai",
      model: "gpt-4o-mini",
      outcome: "completed",
    });
  });

  test("Google AI: generateContent and streamGenerateContent, the key in x-goog-api-key, an alias in the path resolved", async () => {
    const json = await callSidecar("/google-ai/v1beta/models/fast:generateContent", {
      body: { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
      headers: { "x-goog-api-key": PLACEHOLDER },
    });
    expect(json.status).toBe(200);
    const seen = stubRequestFor("google-ai", json.decisionId!)!;
    expect(seen.path).toBe("/v1beta/models/gemini-2.0-flash:generateContent");
    expect(seen.headers["x-goog-api-key"]).toBe(KEYS["google-ai"]);
    expect(await usageRow(json.decisionId!)).toMatchObject({
      requested_model: "fast",
      model: "gemini-2.0-flash",
      input_tokens: 31,
      output_tokens: 5,
    });

    const streamed = await callSidecar(
      "/google-ai/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
      {
        body: { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
        headers: { "x-stub-events": "3" },
      },
    );
    expect(streamed.body.split("\r\n\r\n").filter(Boolean)).toHaveLength(3);
    expect(await usageRow(streamed.decisionId!)).toMatchObject({
      stream: true,
      outcome: "completed",
      output_tokens: 3,
    });
  });

  test("a forbidden model: 403 JSON naming it and the allowed ones; nothing forwarded, no usage row", async () => {
    const before = forwardedCount();
    const answer = await callSidecar("/openai/v1/chat/completions", {
      body: { model: "gpt-4-turbo", messages: [{ role: "user", content: "hi" }] },
    });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toEqual({
      error: {
        code: "model_not_allowed",
        message:
          "model gpt-4-turbo is not allowed for this agent; allowed openai models: gpt-4.1*, gpt-4o, gpt-4o-mini, o3-mini",
        decision_id: answer.decisionId,
        type: "permission_error",
        param: null,
      },
    });
    expect(forwardedCount()).toBe(before);
    expect(await sql("SELECT 1 FROM llm_usage WHERE decision_id = $1", [answer.decisionId])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

type Shape = "json" | "stream" | "upstream_cut" | "client_cut";

interface Planned {
  provider: Provider;
  shape: Shape;
  path: string;
  body: unknown;
  headers: Record<string, string>;
  cutAfterEvents?: number;
  /** The model the test expects upstream to be asked for (aliases resolved). */
  model: string;
}

/** Call i of the mixed run: every provider, JSON and streams, both kinds of cut, varied token counts. */
function plan(i: number): Planned {
  const shapes: Shape[] = ["json", "stream", "upstream_cut", "client_cut"];
  const providers: Provider[] = ["openai", "anthropic", "google-ai", "azure-openai"];
  const provider = providers[i % 4]!;
  let shape = shapes[Math.floor(i / 4) % 4]!;
  // Google's usage is a running total in every event, so where an agent hangs up decides what was
  // seen; Azure streams like OpenAI. Those cut by the upstream, which the stub knows exactly.
  if (shape === "client_cut" && (provider === "google-ai" || provider === "azure-openai"))
    shape = "upstream_cut";
  const stream = shape !== "json";
  const headers: Record<string, string> = {
    "x-stub-input-tokens": String(40 + ((i * 7919) % 4000)),
    "x-stub-cached-tokens": String(i % 3 === 0 ? (i * 31) % 40 : 0),
    // A cut stream has more events than are sent before the cut.
    "x-stub-events": String(
      shape === "client_cut" ? 40 : shape === "upstream_cut" ? 6 + (i % 6) : 1 + (i % 6),
    ),
    "x-stub-interval-ms": String(shape === "json" || shape === "stream" ? 0 : 3),
  };
  if (shape === "upstream_cut") headers["x-stub-cut-after"] = String(2 + (i % 3));
  const messages = [{ role: "user", content: `call ${i}` }];
  const cutAfterEvents = shape === "client_cut" ? 2 : undefined;
  switch (provider) {
    case "openai": {
      const requested = ["gpt-4o-mini", "fast", "gpt-4.1-nano"][i % 3]!;
      return {
        provider,
        shape,
        path: "/openai/v1/chat/completions",
        body: { model: requested, stream, messages },
        headers,
        cutAfterEvents,
        model: requested === "fast" ? "gpt-4o-mini" : requested,
      };
    }
    case "anthropic": {
      const requested = i % 2 === 0 ? "fast" : "claude-sonnet-4-20250514";
      return {
        provider,
        shape,
        path: "/anthropic/v1/messages",
        body: { model: requested, max_tokens: 64, stream, messages },
        headers,
        cutAfterEvents,
        model: requested === "fast" ? "claude-3-5-haiku-latest" : requested,
      };
    }
    case "google-ai":
      return {
        provider,
        shape,
        path: `/google-ai/v1beta/models/${i % 2 === 0 ? "fast" : "gemini-2.0-flash"}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
        body: { contents: [{ role: "user", parts: [{ text: `call ${i}` }] }] },
        headers,
        model: "gemini-2.0-flash",
      };
    case "azure-openai":
      return {
        provider,
        shape,
        path: `/azure-openai/openai/deployments/${AZURE_DEPLOYMENT}/chat/completions?api-version=2024-10-21`,
        body: { stream, messages },
        headers,
        model: AZURE_DEPLOYMENT,
      };
  }
}

async function runAll<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

const CALLS = 1_000;
let mixedStarted: string;
let mixedRows: UsageRow[] = [];
let expectedTotal = 0n;

describe("1,000 mixed calls", () => {
  test("one usage row per call, cut streams included, each priced exactly from the table", async () => {
    mixedStarted = new Date().toISOString();
    const before = new Set(Object.values(stubs).flatMap((stub) => stub.requests));
    const planned = Array.from({ length: CALLS }, (_, i) => plan(i));
    const answers = await runAll(planned, 8, (call) =>
      callSidecar(call.path, { body: call.body, headers: call.headers, cutAfterEvents: call.cutAfterEvents }),
    );
    // Every call reached its provider once; the ones cut by the upstream or the agent ended early.
    const fresh = Object.fromEntries(
      (Object.keys(stubs) as Provider[]).map((p) => [p, stubs[p].requests.filter((r) => !before.has(r))]),
    ) as Record<Provider, RecordedRequest[]>;
    // JSON answers arrive whole; a cut stream reaches the agent as a connection closed early, or,
    // when the upstream went away before the response headers had passed the sidecar, as Envoy's
    // 502 JSON (nothing of the stream reached the agent, nor extproc-server's body phase), in the
    // provider's error shape: Warden's code is `code` (OpenAI, Anthropic) or the ErrorInfo `reason` (Google).
    const beforeHeaders = (answer: Answer) =>
      answer.status === 502 && !answer.cut && /"(code|reason)":"upstream_unavailable"/.test(answer.body);
    const wrongEnds = planned
      .map((call, i) => ({ call, answer: answers[i]!, i }))
      .filter(({ call, answer }) => {
        if (call.shape === "json") return answer.status !== 200 || answer.cut;
        if (call.shape === "upstream_cut") return !(answer.cut || beforeHeaders(answer));
        return call.shape === "client_cut" ? !answer.cut : answer.cut || answer.status !== 200;
      })
      .map(
        ({ call, answer, i }) =>
          `call ${i} (${call.provider} ${call.shape}): status ${answer.status}, cut ${answer.cut}, body ends ${JSON.stringify(answer.body.slice(-80))}`,
      );
    expect(wrongEnds).toEqual([]);
    // Checked after the answers, so a failure says which call went wrong and how.
    expect(Object.values(fresh).flat()).toHaveLength(CALLS);

    const decisionIds = Object.values(fresh).flatMap((requests) =>
      requests.map((r) => String(r.headers["x-warden-decision-id"])),
    );
    expect(new Set(decisionIds).size).toBe(CALLS);
    await waitFor(
      "a usage row for every call",
      async () => {
        const [row] = await sql<{ n: string }>(
          "SELECT count(*)::text AS n FROM llm_usage WHERE decision_id = ANY($1)",
          [decisionIds],
        );
        return Number(row!.n) >= CALLS;
      },
      60_000,
    );
    mixedRows = await sql<UsageRow>(`${USAGE_SELECT} WHERE occurred_at >= $1`, [mixedStarted]);
    // Rows == requests: one per decision, none missing, none extra.
    expect(mixedRows).toHaveLength(CALLS);
    expect(new Set(mixedRows.map((row) => row.decision_id))).toEqual(new Set(decisionIds));

    const mismatches: string[] = [];
    const rowsById = new Map(mixedRows.map((row) => [row.decision_id, row]));
    for (const [index, call] of planned.entries()) {
      const seen = fresh[call.provider].find((r) => r.body.includes(`"call ${index}"`));
      if (!seen) {
        mismatches.push(`call ${index}: the stub has no record`);
        continue;
      }
      const row = rowsById.get(String(seen.headers["x-warden-decision-id"]))!;
      // A call that went upstream but whose usage Warden never saw (cut before the provider's usage
      // event, or before the response headers passed the sidecar) is charged an estimate:
      // the row says so, nothing undelivered is counted as output, and its cost is still the table's
      // exact price of the tokens it carries.
      const beforeAnswer = beforeHeaders(answers[index]!);
      const unseen = beforeAnswer || seen.reported === null;
      const reported = unseen
        ? { input: row.input_tokens, cached: 0, cacheWrite: 0, output: row.output_tokens }
        : seen.reported!;
      if (unseen && !(row.usage_source === "estimated" && row.input_tokens > 0))
        mismatches.push(
          `call ${index} (${call.provider} ${call.shape}): expected an estimate, got ${row.usage_source}`,
        );
      if (beforeAnswer && row.output_tokens !== 0)
        mismatches.push(`call ${index}: nothing was delivered, yet ${row.output_tokens} output tokens`);
      const cost = expectedCost(call.provider, call.model, reported);
      expectedTotal += cost ?? 0n;
      const expected = {
        provider: call.provider,
        model: call.model,
        stream: call.shape !== "json",
        outcome: call.shape.endsWith("_cut") ? "cut" : "completed",
        tokens: [reported.input, reported.cached, reported.cacheWrite, reported.output],
        cost: cost === null ? null : cost.toString(),
        agent: [AGENT_ID, AGENT, "acme", "engineering"],
      };
      const actual = {
        provider: row.provider,
        model: row.model,
        stream: row.stream,
        outcome: row.outcome,
        tokens: [row.input_tokens, row.cached_input_tokens, row.cache_write_tokens, row.output_tokens],
        cost: row.cost_pico_usd,
        agent: [row.agent_id, row.agent_spiffe_id, row.tenant, row.team],
      };
      if (JSON.stringify(actual) !== JSON.stringify(expected))
        mismatches.push(
          `call ${index} (${call.provider} ${call.shape}): expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
        );
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    const unpriced = mixedRows.filter((row) => row.cost_pico_usd === null);
    expect(unpriced.length).toBeGreaterThan(0);
    expect(unpriced.every((row) => row.model === "gpt-4.1-nano")).toBe(true);
    process.stdout.write(
      `llm acceptance: ${CALLS} calls → ${mixedRows.length} usage rows; ` +
        `${answers.filter(beforeHeaders).length} upstream cuts before the headers passed (agent got 502); ` +
        `${mixedRows.filter((r) => r.outcome === "cut").length} cut, ${unpriced.length} unpriced; ` +
        `total cost ${expectedTotal} pico-USD, exact\n`,
    );
  }, 300_000);

  test("the control plane's usage API adds the same rows up to the same exact cost", async () => {
    const viewer = await oidc.token({ sub: "vera-viewer", roles: ["viewer"] });
    const report = await controlPlane.call<{
      totals: { requests: number; cost_pico_usd: string; incomplete_requests: number };
      groups: { key: { provider: string }; totals: { requests: number } }[];
    }>("GET", `/v1/usage?tenant=acme&from=${encodeURIComponent(mixedStarted)}&group_by=provider`, {
      token: viewer,
    });
    expect(report.status).toBe(200);
    expect(report.body.totals.requests).toBe(CALLS);
    expect(report.body.totals.cost_pico_usd).toBe(expectedTotal.toString());
    expect(report.body.totals.incomplete_requests).toBe(mixedRows.filter((r) => r.outcome === "cut").length);
    expect(report.body.groups.map((g) => g.totals.requests).reduce((a, b) => a + b, 0)).toBe(CALLS);
  });
});

describe("refusals", () => {
  test("over budget: 402 JSON naming the budget and the period; nothing forwarded; the refusal is a usage row", async () => {
    const created = await controlPlane.call<{ id: string }>("POST", "/v1/budgets", {
      token: adminToken,
      body: { tenant: "acme", scope: "team", subject: "engineering", period: "daily", limit_usd: "0.000001" },
    });
    expect(created.status).toBe(201);
    let before = 0;
    let answer: Answer | undefined;
    // The sidecar hears of the budget through NOTIFY, within about a second.
    await waitFor(
      "the budget to bind",
      async () => {
        before = forwardedCount();
        answer = await callSidecar("/openai/v1/chat/completions", {
          body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "over budget?" }] },
        });
        return answer.status === 402;
      },
      5_000,
    );
    expect(forwardedCount()).toBe(before);
    const day = new Date().toISOString().slice(0, 10);
    const body = JSON.parse(answer!.body) as {
      error: { code: string; message: string; decision_id: string };
    };
    expect(body.error).toMatchObject({ code: "budget_exceeded", decision_id: answer!.decisionId });
    expect(body.error.message).toMatch(
      new RegExp(
        `^the daily budget of team engineering \\(tenant acme\\) is used up for ${day} \\(UTC\\): spent \\$[0-9.]+ of \\$0\\.000001; no request was sent upstream$`,
      ),
    );
    expect(await usageRow(answer!.decisionId!)).toMatchObject({
      outcome: "not_forwarded",
      status: 402,
      error_code: "budget_exceeded",
      cost_pico_usd: "0",
    });
    expect(
      await controlPlane.call("DELETE", `/v1/budgets/${created.body.id}`, { token: adminToken }),
    ).toMatchObject({ status: 204 });
    await waitFor(
      "the budget to be lifted",
      async () => {
        const next = await callSidecar("/openai/v1/chat/completions", {
          body: { model: "gpt-4o-mini", messages: [] },
        });
        return next.status === 200;
      },
      5_000,
    );
  });

  test("Vault down with no usable cached key: 503 JSON, nothing forwarded", async () => {
    await vault.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // the key cache TTL is 1 s, no stale keys
    const before = forwardedCount();
    const answer = await callSidecar("/anthropic/v1/messages", {
      body: { model: "claude-sonnet-4-20250514", max_tokens: 8, messages: [] },
    });
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { code: "unavailable", decision_id: answer.decisionId },
    });
    expect(forwardedCount()).toBe(before);
    expect(await usageRow(answer.decisionId!)).toMatchObject({
      outcome: "not_forwarded",
      status: 503,
      error_code: "unavailable",
    });
  });
});

describe("nothing leaks", () => {
  test("no key value in any log, audit row, usage row, or anything the agent received in the whole run", async () => {
    const logs = [
      stack.extproc.process().log(),
      stack.authz.process().log(),
      stack.envoy.process.log(),
      readFileSync(stack.envoy.accessLogPath, "utf8"),
      controlPlane.process.log(),
    ].join("\n");
    const rows = JSON.stringify([
      ...(await sql("SELECT * FROM audit_events")),
      ...(await sql("SELECT * FROM llm_usage")),
    ]);
    const seen = agentSaw.join("\n");
    expect(rows.length).toBeGreaterThan(100_000);
    expect(seen.length).toBeGreaterThan(100_000);
    for (const key of Object.values(KEYS)) {
      expect(logs).not.toContain(key);
      expect(rows).not.toContain(key);
      expect(seen).not.toContain(key);
    }
    expect(logs).not.toContain(PLACEHOLDER);
  });
});
