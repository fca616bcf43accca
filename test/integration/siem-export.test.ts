import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { runWarden } from "../../control-plane/src/cli/warden.js";
import { startSyslogReceiver, type SyslogReceiver } from "../stubs/syslog-tls-receiver.js";
import { startWebhookReceiver, type WebhookReceiver } from "../stubs/webhook-receiver.js";
import { appendDataPlaneAudit, untrustedCertificateDenial } from "../support/data-plane-audit.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";

/**
 * The audit stream for a SIEM, on the real control plane, PostgreSQL and OpenBao: pulled with a
 * cursor as NDJSON or OCSF, pushed as `audit.record` webhooks and as RFC 5424 syslog over TLS to a
 * collector stub. What an operator notices: every event exactly where the cursor says, OCSF records
 * with the fields their SIEM requires, well-formed syslog frames, and no secret anywhere.
 */
type Json = Record<string, unknown>;

let f: ControlPlaneFixture;
let owner: Database;
let syslog: SyslogReceiver;
let hooks: WebhookReceiver;
let admin: string;
let creator: string;
let operator: string;
let webhookSecret: string;

const lines = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Json);

async function exportText(query: string, token = admin) {
  return f.call<string>("GET", `/v1/audit/export?${query}`, { token });
}

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function headOf(tenant: string): Promise<number> {
  const { rows } = await owner.query<{ last_seq: number }>(
    "SELECT last_seq FROM audit_chain_heads WHERE tenant = $1",
    [tenant],
  );
  return rows[0]?.last_seq ?? 0;
}

beforeAll(async () => {
  syslog = await startSyslogReceiver();
  hooks = await startWebhookReceiver();
  f = await startControlPlaneFixture({
    vault: true,
    env: {
      WARDEN_WEBHOOK_ALLOW_CIDRS: "127.0.0.1/32",
      WARDEN_WEBHOOK_POLL_MS: "500",
      WARDEN_SYSLOG_TARGET: syslog.target,
      WARDEN_SYSLOG_CA_FILE: syslog.caFile,
      WARDEN_SYSLOG_TENANTS: "acme",
    },
  });
  owner = createPostgresDatabase(f.databaseUrl!);
  [admin, creator, operator] = await Promise.all([
    f.token({ sub: "ada-admin", roles: ["admin"], tenant: "acme" }),
    f.token({ sub: "carl-creator", roles: ["creator"], tenant: "acme" }),
    f.token({ sub: "otto-operator", roles: ["admin"] }),
  ]);
  const subscribed = await f.call<{ secret: string }>("POST", "/v1/webhooks", {
    token: admin,
    body: { url: hooks.url, event_types: ["audit.record"] },
  });
  expect(subscribed.status).toBe(201);
  webhookSecret = subscribed.body.secret;
  hooks.secret = webhookSecret;

  // Something of everything: a registration, a refused API call, a data-plane identity failure.
  const agent = await f.call("POST", "/v1/agents", {
    token: creator,
    body: {
      name: "siem-bot",
      tenant: "acme",
      team: "t",
      type: "assistant",
      environment: "dev",
      capabilities: ["llm:chat"],
    },
  });
  expect(agent.status).toBe(201);
  expect((await f.call("POST", "/v1/agents", { token: creator, body: { name: "x" } })).status).toBe(400);
  await appendDataPlaneAudit(owner, [
    untrustedCertificateDenial("dec-siem-1", {
      agent_spiffe_id: "spiffe://warden.local/agent/siem-bot",
      upstream: "api.openai.com",
    }),
    {
      tenant: "acme",
      source: "authz-server",
      action: "authz.decision",
      agent_spiffe_id: "spiffe://warden.local/agent/siem-bot",
      decision: "allow",
      reason: "allowed",
      decision_id: "dec-siem-2",
      details: { status: 200, path: "/openai/v1/chat/completions" },
    },
  ]);
}, 120_000);

afterAll(async () => {
  await f?.close();
  await owner?.close();
  await syslog?.close();
  await hooks?.close();
});

describe("pulling with a cursor", () => {
  test("pages follow the tenant's chain without a gap or a repeat, and an empty page keeps the cursor", async () => {
    const head = await headOf("acme");
    expect(head).toBeGreaterThanOrEqual(5);
    const seen: number[] = [];
    let cursor = 0;
    for (let pages = 0; pages < 20; pages++) {
      const res = await exportText(`format=ndjson&cursor=${cursor}&limit=2`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/application\/x-ndjson/);
      const page = lines(res.text);
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(2);
      seen.push(...page.map((r) => r.chain_seq as number));
      cursor = page[page.length - 1]!.chain_seq as number;
    }
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1));
    expect(seen.length).toBeGreaterThanOrEqual(head);
    expect(lines((await exportText(`cursor=${cursor}`)).text)).toEqual([]);
  });

  test("a cursor needs a tenant, limit needs a cursor, and formats are ndjson or ocsf (400)", async () => {
    const noTenant = await f.call<{ error: { details: Json[] } }>("GET", "/v1/audit/export?cursor=0", {
      token: operator,
    });
    expect(noTenant.status).toBe(400);
    expect(noTenant.body.error.details).toEqual([
      { field: "query.tenant", message: expect.stringMatching(/required with cursor/) },
    ]);
    expect((await exportText("cursor=0&tenant=acme", operator)).status).toBe(200);
    expect((await exportText("limit=5")).status).toBe(400);
    expect((await exportText("format=cef")).status).toBe(400);
    expect((await exportText("cursor=-1")).status).toBe(400);
    expect((await exportText("cursor=0&limit=10001")).status).toBe(400);
  });

  test("OCSF: identity failures are Authentication (3002), the rest API Activity (6003), with the required fields", async () => {
    const records = lines((await exportText("format=ocsf&cursor=0")).text);
    expect(records.length).toBeGreaterThanOrEqual(5);
    for (const r of records) {
      expect(r).toMatchObject({
        activity_id: expect.any(Number),
        category_uid: expect.any(Number),
        class_uid: expect.any(Number),
        severity_id: expect.any(Number),
        time: expect.any(Number),
        type_uid: (r.class_uid as number) * 100 + (r.activity_id as number),
        metadata: {
          version: "1.3.0",
          product: { vendor_name: "Agent Warden", name: "Agent Warden" },
          uid: expect.any(String),
          sequence: expect.any(Number),
          tenant_uid: "acme",
        },
      });
      if (r.class_uid === 6003)
        expect(r).toMatchObject({
          category_uid: 6,
          actor: { user: { uid: expect.any(String) } },
          api: { operation: expect.any(String) },
          cloud: { provider: expect.any(String) },
          src_endpoint: expect.any(Object),
        });
      else expect(r).toMatchObject({ class_uid: 3002, category_uid: 3, user: { uid: expect.any(String) } });
    }
    const failure = records.find((r) => (r.metadata as Json).correlation_uid === "dec-siem-1")!;
    expect(failure).toMatchObject({
      class_uid: 3002,
      activity_id: 1,
      status_id: 2,
      status_detail: "certificate_untrusted",
      user: { uid: "spiffe://warden.local/agent/siem-bot" },
      dst_endpoint: { hostname: "api.openai.com" },
    });
    const allowed = records.find((r) => (r.metadata as Json).correlation_uid === "dec-siem-2")!;
    expect(allowed).toMatchObject({
      class_uid: 6003,
      activity_id: 99,
      status_id: 1,
      api: { operation: "authz.decision" },
    });
    const registered = records.find((r) => (r.api as Json | undefined)?.operation === "agent.created")!;
    expect(registered).toMatchObject({
      class_uid: 6003,
      activity_id: 1,
      activity_name: "Create",
      actor: { user: { uid: "carl-creator" } },
    });
  });

  test("warden audit export --format ocsf --cursor pulls the same records", async () => {
    const out: string[] = [];
    const io = {
      env: { WARDEN_API_URL: f.url, WARDEN_TOKEN: admin },
      stdout: (line: string) => out.push(line),
      stderr: (line: string) => out.push(`ERR ${line}`),
    };
    expect(
      await runWarden(["audit", "export", "--format", "ocsf", "--cursor", "2", "--limit", "2"], io),
    ).toBe(0);
    expect(out.map((l) => (JSON.parse(l) as { metadata: Json }).metadata.sequence)).toEqual([3, 4]);
    expect(await runWarden(["audit", "export", "--format", "xml"], io)).toBe(2);
  });
});

describe("pushing", () => {
  test("the collector receives well-formed RFC 5424 messages over TLS, octet-counted, in chain order", async () => {
    const head = await headOf("acme");
    // The push starts at the chain head it finds first: events from then on.
    await f.call("POST", "/v1/agents", {
      token: creator,
      body: {
        name: "syslog-bot",
        tenant: "acme",
        team: "t",
        type: "assistant",
        environment: "dev",
        capabilities: ["llm:chat"],
      },
    });
    const message = await waitFor("the registration over syslog", () =>
      syslog.messages.find((m) => m.includes('action="agent.created"') && m.includes("syslog-bot")),
    );
    expect(syslog.framingErrors).toEqual([]);
    const syntax =
      /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([\x21-\x7e]{1,255}) agent-warden ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) \[warden@32473( [a-z_]+="(?:[^"\\\]]|\\["\\\]])*")+\] \uFEFF(\{.*\})$/s;
    for (const m of syslog.messages) expect(m).toMatch(syntax);
    const [, pri, , , procId, msgId] = syntax.exec(message)!;
    expect([Number(pri), procId, msgId]).toEqual([13 * 8 + 6, "control-plane", "agent.created"]);
    const row = JSON.parse(syntax.exec(message)!.at(-1)!) as Json;
    expect(row).toMatchObject({ tenant: "acme", action: "agent.created" });
    expect(row.chain_seq as number).toBeGreaterThan(head);
    const seqs = syslog.messages.map((m) => Number(/ seq="(\d+)"/.exec(m)![1]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  test("a webhook subscribed to audit.record gets every row of its tenant, signed", async () => {
    await waitFor("audit.record deliveries", () =>
      hooks.accepted().some((r) => r.body.includes('"agent.created"') && r.body.includes("syslog-bot"))
        ? true
        : undefined,
    );
    const events = hooks.accepted().map((r) => JSON.parse(r.body) as { type: string; sequence: number });
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(["audit.record"]));
    const seqs = events.map((e) => e.sequence).sort((a, b) => a - b);
    expect(new Set(seqs).size).toBe(seqs.length);
  });
});

test("no secret reaches an exported record: not the webhook secret, the bearer tokens or OpenBao's token", async () => {
  const everything = [
    (await exportText("format=ndjson&cursor=0&limit=10000")).text,
    (await exportText("format=ocsf&cursor=0&limit=10000")).text,
    (await exportText("format=ocsf", operator)).text,
    ...syslog.messages,
    ...hooks.received.map((r) => r.body),
  ].join("\n");
  expect(everything.length).toBeGreaterThan(1000);
  for (const secret of [webhookSecret, admin, creator, operator, webhookSecret.slice(6)])
    expect(everything).not.toContain(secret);
  expect(everything).not.toMatch(/whsec_|hvs\.|s\.[A-Za-z0-9]{24}|vault:v\d/);
});
