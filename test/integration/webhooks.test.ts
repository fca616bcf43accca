import { randomUUID } from "node:crypto";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { signatureHeader } from "../../lib/src/webhooks/signature.js";
import { startControlPlane, type RunningControlPlane } from "../../control-plane/src/app.js";
import { runWarden } from "../../control-plane/src/cli/warden.js";
import {
  startWebhookReceiver,
  type ReceivedDelivery,
  type WebhookReceiver,
} from "../stubs/webhook-receiver.js";
import { appendDataPlaneAudit, untrustedCertificateDenial } from "../support/data-plane-audit.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";

/**
 * Lifecycle webhooks on the real control plane, PostgreSQL and OpenBao, delivered to a receiver
 * stub that verifies them with the shipped helper. What a customer notices: signed events for what
 * happened in their tenant, retries that back off when the receiver fails, replays refused, a
 * receiver that keeps failing switched off, and nothing lost across a control-plane restart.
 */
type Webhook = {
  id: string;
  tenant: string;
  url: string;
  state: string;
  disabled_reason: string | null;
  consecutive_failures: number;
  event_types: string[];
};
type Created = { subscription: Webhook; secret: string };
type Delivery = {
  id: string;
  event_id: string;
  event_type: string;
  state: string;
  attempts: number;
  last_status: number | null;
  history: { attempt: number; status: number | null; error: string | null; started_at: string }[];
};
type ErrorReply = {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
};
type Event = {
  id: string;
  type: string;
  tenant: string;
  sequence: number | null;
  data: Record<string, unknown>;
};

const RETRY_BASE_MS = 300;
const DISABLE_AFTER = 5;
const ENV = {
  WARDEN_WEBHOOK_ALLOW_CIDRS: "127.0.0.1/32",
  WARDEN_WEBHOOK_RETRY_BASE_MS: String(RETRY_BASE_MS),
  // Equal jitter: every wait is at least the previous one's ceiling, so the growth is observable.
  WARDEN_WEBHOOK_JITTER: "equal",
  WARDEN_WEBHOOK_MAX_ATTEMPTS: "8",
  WARDEN_WEBHOOK_DISABLE_AFTER: String(DISABLE_AFTER),
  WARDEN_WEBHOOK_POLL_MS: "500",
};

let f: ControlPlaneFixture;
let owner: Database;
let receiver: WebhookReceiver;
let admin: string;
let globexAdmin: string;
let creator: string;
let viewer: string;

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const cleanups: (() => void)[] = [];
const afterThis = (cleanup: () => void) => cleanups.push(cleanup);
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const eventOf = (delivery: ReceivedDelivery) => JSON.parse(delivery.body) as Event;

function receivedOf(type: string, predicate: (event: Event) => boolean = () => true) {
  return receiver.received.filter(
    (r) => r.verdict === "accepted" && eventOf(r).type === type && predicate(eventOf(r)),
  );
}

async function subscribe(eventTypes: string[], url = receiver.url, token = admin) {
  return f.call<Created & ErrorReply>("POST", "/v1/webhooks", {
    token,
    body: { url, event_types: eventTypes },
  });
}

async function registerAgent(name: string) {
  const res = await f.call<{ id: string }>("POST", "/v1/agents", {
    token: creator,
    body: {
      name,
      tenant: "acme",
      team: "research",
      type: "assistant",
      environment: "dev",
      capabilities: ["llm:chat"],
    },
  });
  expect(res.status).toBe(201);
  return res.body;
}

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  f = await startControlPlaneFixture({ vault: true, env: ENV });
  owner = createPostgresDatabase(f.databaseUrl!);
  [admin, globexAdmin, creator, viewer] = await Promise.all([
    f.token({ sub: "ada-admin", roles: ["admin"], tenant: "acme" }),
    f.token({ sub: "gus-admin", roles: ["admin"], tenant: "globex" }),
    f.token({ sub: "carl-creator", roles: ["creator"], tenant: "acme" }),
    f.token({ sub: "vic-viewer", roles: ["viewer", "reviewer"], tenant: "acme" }),
  ]);
}, 120_000);

afterAll(async () => {
  await f?.close();
  await owner?.close();
  await receiver?.close();
});

let main: Created;

describe("subscribing", () => {
  test("a receiver on a loopback, link-local or private address is refused unless an admin allowed it", async () => {
    for (const url of [
      "http://127.0.0.2:9/x",
      "http://[::1]:9/x",
      "http://[::ffff:127.0.0.2]:9/x",
      "http://[::ffff:7f00:2]:9/x",
      "http://169.254.169.254/latest/meta-data",
      "https://10.1.2.3/x",
      "https://192.168.1.1/x",
      "https://100.64.0.1/x",
      "https://[fd00::1]/x",
      "https://0.0.0.0/x",
      "https://224.0.0.1/x",
    ]) {
      const res = await subscribe(["agent.registered"], url);
      expect([url, res.status]).toEqual([url, 400]);
      expect(res.body.error.details).toEqual([
        { field: "url", message: expect.stringMatching(/non-public address/) },
      ]);
    }
    for (const [url, why] of [
      ["ftp://example.com/x", /https/],
      ["https://user:pw@example.com/x", /credentials/],
      ["http://93.184.215.14/x", /https/],
      ["https://no-such-host.invalid/x", /does not resolve/],
    ] as const) {
      const res = await subscribe(["agent.registered"], url);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(why);
    }
  });

  test("only an admin subscribes; the secret is shown once and stored sealed, never in plain text", async () => {
    expect((await subscribe(["agent.registered"], receiver.url, viewer)).status).toBe(403);
    const unknownType = await subscribe(["agent.exploded"]);
    expect(unknownType.status).toBe(400);

    const res = await subscribe(["agent.registered", "kya.submitted", "security.identity_failure"]);
    expect(res.status).toBe(201);
    main = res.body;
    receiver.secret = main.secret;
    expect(main.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(main.subscription).toMatchObject({ tenant: "acme", url: receiver.url, state: "active" });
    expect(JSON.stringify(main.subscription)).not.toContain(main.secret);

    const shown = await f.call<Webhook>("GET", `/v1/webhooks/${main.subscription.id}`, { token: admin });
    expect(shown.status).toBe(200);
    expect(shown.text).not.toContain(main.secret);
    expect(shown.text).not.toContain("vault:");
    const { rows } = await owner.query<{ secret_sealed: string }>(
      "SELECT secret_sealed FROM webhook_subscriptions WHERE id = $1",
      [main.subscription.id],
    );
    expect(rows[0]!.secret_sealed).toMatch(/^vault:v\d+:/);
    const audit = await owner.query("SELECT * FROM audit_events WHERE action = 'webhook.subscribed'");
    expect(audit.rows).toHaveLength(1);
    expect(JSON.stringify(audit.rows)).not.toContain(main.secret);

    const list = await f.call<{ items: Webhook[] }>("GET", "/v1/webhooks", { token: admin });
    expect(list.body.items.map((w) => w.id)).toEqual([main.subscription.id]);
  });

  test("another tenant's admin neither sees nor removes the subscription (404)", async () => {
    expect((await f.call("GET", "/v1/webhooks", { token: globexAdmin })).body).toEqual({
      items: [],
      next_cursor: null,
    });
    for (const [method, path] of [
      ["GET", `/v1/webhooks/${main.subscription.id}`],
      ["DELETE", `/v1/webhooks/${main.subscription.id}`],
      ["GET", `/v1/webhooks/${main.subscription.id}/deliveries`],
      ["POST", `/v1/webhooks/${main.subscription.id}/test`],
      ["POST", `/v1/webhooks/${main.subscription.id}/reactivate`],
    ] as const)
      expect([path, (await f.call(method, path, { token: globexAdmin })).status]).toEqual([path, 404]);
  });
});

describe("delivery", () => {
  test("a registered agent reaches the receiver as a signed agent.registered event", async () => {
    const agent = await registerAgent("webhook-bot");
    const [delivery] = await waitFor("agent.registered", () => {
      const got = receivedOf("agent.registered", (e) => e.data.agent_id === agent.id);
      return got.length ? got : undefined;
    });
    const event = eventOf(delivery!);
    expect(event).toMatchObject({
      type: "agent.registered",
      tenant: "acme",
      data: { action: "agent.created", actor: "carl-creator", agent_id: agent.id },
    });
    expect(delivery!.headers["warden-event-id"]).toBe(event.id);
    expect(delivery!.headers["warden-signature"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(delivery!.body).not.toContain(main.secret);
  });

  test("after 500s the receiver sees retries with growing gaps, then the event once", async () => {
    receiver.failFirst = 3;
    const agent = await registerAgent("flaky-receiver-bot");
    afterThis(() => (receiver.failFirst = 0));
    const arrivals = await waitFor(
      "the event accepted after three 500s",
      () => {
        const all = receiver.received.filter((r) => {
          const e = eventOf(r);
          return e.type === "agent.registered" && e.data.agent_id === agent.id;
        });
        return all.some((r) => r.verdict === "accepted") ? all : undefined;
      },
      30_000,
    );
    expect(arrivals.map((r) => [r.status, r.headers["warden-delivery-attempt"]])).toEqual([
      [500, "1"],
      [500, "2"],
      [500, "3"],
      [200, "4"],
    ]);
    expect(new Set(arrivals.map((r) => r.headers["warden-event-id"])).size).toBe(1);
    const gaps = arrivals.slice(1).map((r, i) => r.at - arrivals[i]!.at);
    // Equal jitter: wait n is in [base·2^(n-2), base·2^(n-1)] (plus scheduling), so each is longer.
    expect(gaps[0]).toBeGreaterThanOrEqual(RETRY_BASE_MS / 2 - 20);
    expect(gaps[1]).toBeGreaterThan(gaps[0]! - 40);
    expect(gaps[2]).toBeGreaterThan(gaps[1]! - 40);
    expect(gaps[2]).toBeGreaterThan(2 * gaps[0]!);
    expect(gaps[2]).toBeGreaterThanOrEqual(2 * RETRY_BASE_MS - 20);

    // The receiver answered before the control plane recorded the attempt: wait for the record.
    const eventId = arrivals[0]!.headers["warden-event-id"];
    const { history, delivery } = await waitFor("the delivery recorded as succeeded", async () => {
      const page = await f.call<{ items: Delivery[] }>(
        "GET",
        `/v1/webhooks/${main.subscription.id}/deliveries`,
        {
          token: admin,
        },
      );
      const found = page.body.items.find((d) => d.event_id === eventId);
      return found?.state === "succeeded" ? { history: page, delivery: found } : undefined;
    });
    expect(history.status).toBe(200);
    expect(delivery).toMatchObject({ state: "succeeded", attempts: 4, last_status: 200 });
    expect(delivery.history.map((a) => a.status)).toEqual([500, 500, 500, 200]);
    expect(history.text).not.toContain(main.secret);
  }, 30_000);

  test("a replayed delivery is refused, and so are a stale timestamp and a changed body", async () => {
    const original = receiver.accepted()[0]!;
    const post = (headers: Record<string, string>, body: string) =>
      fetch(receiver.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      });
    const sameHeaders = {
      "warden-signature": String(original.headers["warden-signature"]),
      "warden-event-id": String(original.headers["warden-event-id"]),
    };
    expect((await post(sameHeaders, original.body)).status).toBe(409);
    const stale = Math.floor(Date.now() / 1000) - 600;
    const staleHeaders = {
      ...sameHeaders,
      "warden-signature": signatureHeader(main.secret, stale, original.body),
    };
    expect((await post(staleHeaders, original.body)).status).toBe(400);
    expect((await post(sameHeaders, original.body.replace("acme", "acmf"))).status).toBe(401);
    expect(receiver.received.slice(-3).map((r) => r.verdict)).toEqual([
      "replay",
      "outside_window",
      "bad_signature",
    ]);
  });

  test("a test event is delivered on request", async () => {
    const res = await f.call<Delivery>("POST", `/v1/webhooks/${main.subscription.id}/test`, { token: admin });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ event_type: "webhook.test", state: "pending" });
    await waitFor("webhook.test", () => (receivedOf("webhook.test").length ? true : undefined));
  });
});

describe("a receiver that keeps failing", () => {
  test("is disabled after repeated failures, audited, and can be reactivated", async () => {
    const down = await startWebhookReceiver();
    try {
      down.alwaysStatus = 503;
      const res = await subscribe(["agent.registered"], down.url);
      down.secret = res.body.secret;
      const id = res.body.subscription.id;
      await registerAgent("unheard-bot");
      const disabled = await waitFor("the subscription disabled", async () => {
        const w = (await f.call<Webhook>("GET", `/v1/webhooks/${id}`, { token: admin })).body;
        return w.state === "disabled" ? w : undefined;
      });
      expect(disabled.disabled_reason).toMatch(
        new RegExp(`after ${DISABLE_AFTER} failed attempts in a row; last: the receiver answered 503`),
      );
      expect(down.received).toHaveLength(DISABLE_AFTER);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(down.received).toHaveLength(DISABLE_AFTER);
      const audited = await owner.query(
        "SELECT reason FROM audit_events WHERE action = 'webhook.disabled' AND resource_id = $1",
        [id],
      );
      expect(audited.rows).toHaveLength(1);
      expect((await f.call("POST", `/v1/webhooks/${id}/test`, { token: admin })).status).toBe(409);

      down.alwaysStatus = null;
      const back = await f.call<Webhook>("POST", `/v1/webhooks/${id}/reactivate`, { token: admin });
      expect(back.body).toMatchObject({ state: "active", consecutive_failures: 0, disabled_reason: null });
      await waitFor("the held event after reactivation", () =>
        down.received.some((r) => r.verdict === "accepted") ? true : undefined,
      );
      expect((await f.call("DELETE", `/v1/webhooks/${id}`, { token: admin })).status).toBe(204);
      expect((await f.call("GET", `/v1/webhooks/${id}`, { token: admin })).status).toBe(404);
    } finally {
      await down.close();
    }
  }, 60_000);
});

describe("the CLI", () => {
  test("warden webhooks add, list, test, deliveries and remove", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      env: { WARDEN_API_URL: f.url, WARDEN_TOKEN: admin },
      stdout: (line: string) => out.push(line),
      stderr: (line: string) => err.push(line),
    };
    const cli = async (...argv: string[]) => {
      out.length = 0;
      err.length = 0;
      return runWarden(argv, io);
    };
    expect(
      await cli("webhooks", "add", receiver.url, "--events", "kya.submitted,agent.revoked", "--json"),
    ).toBe(0);
    const created = JSON.parse(out.join("\n")) as Created;
    expect(created.secret).toMatch(/^whsec_/);
    expect(await cli("webhooks", "add", receiver.url, "--events", "kya.submitted")).toBe(0);
    expect(out.join("\n")).toMatch(/secret \(shown once\): whsec_/);
    expect(await cli("webhooks", "add", "http://10.0.0.1/x", "--events", "kya.submitted")).toBe(1);
    expect(err.join("\n")).toMatch(/non-public address/);
    expect(await cli("webhooks", "list")).toBe(0);
    expect(out.join("\n")).toContain(created.subscription.id);
    expect(await cli("webhooks", "test", created.subscription.id)).toBe(0);
    expect(await cli("webhooks", "deliveries", created.subscription.id, "--json")).toBe(0);
    expect((JSON.parse(out.join("\n")) as Delivery[])[0]).toMatchObject({ event_type: "webhook.test" });
    expect(await cli("webhooks", "remove", created.subscription.id)).toBe(0);
    expect(await cli("webhooks", "add", receiver.url)).toBe(2);
  });
});

describe("restarts", () => {
  test("an event recorded while the control plane was down is delivered after it restarts", async () => {
    await f.controlPlane.webhooks.close();
    // The data plane keeps auditing while the control plane is away: an identity failure.
    const decisionId = `dec-${randomUUID()}`;
    await appendDataPlaneAudit(owner, [untrustedCertificateDenial(decisionId)]);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(receivedOf("security.identity_failure")).toHaveLength(0);

    let second: RunningControlPlane | undefined;
    try {
      second = await startControlPlane({
        ...process.env,
        ...ENV,
        WARDEN_CP_PORT: "0",
        WARDEN_CP_AUDIT_SPOOL: `${process.env.TMPDIR ?? "/tmp"}/warden-webhooks-restart-${randomUUID()}.ndjson`,
        WARDEN_OIDC_ISSUER: f.oidc.issuer,
        WARDEN_LOG_LEVEL: "error",
        DATABASE_URL: f.databaseUrl!,
        VAULT_ADDR: f.vault!.address,
        VAULT_TOKEN: await f.vault!.tokenFor("control-plane"),
      });
      const [got] = await waitFor("the identity failure", () => {
        const list = receivedOf("security.identity_failure", (e) => e.data.decision_id === decisionId);
        return list.length ? list : undefined;
      });
      expect(eventOf(got!).data).toMatchObject({ reason: "certificate_untrusted", source: "authz-server" });
      // The first control plane's rows were not sent again by the second.
      const registered = receiver.accepted().filter((r) => eventOf(r).type === "agent.registered");
      expect(new Set(registered.map((r) => r.headers["warden-event-id"])).size).toBe(registered.length);
    } finally {
      await second?.close();
    }
  }, 60_000);
});

test("every webhook operation was exercised with a documented status", () => {
  const ours = f.operations.filter((op) => op.path.startsWith("/v1/webhooks")).map((op) => op.operationId);
  expect(ours.length).toBe(7);
  expect(ours.filter((id) => !f.covered.has(id))).toEqual([]);
});
