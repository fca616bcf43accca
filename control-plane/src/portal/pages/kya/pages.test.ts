import type { FastifyRequest } from "fastify";
import type { SaasCatalogue } from "../../../../../lib/src/saas/catalogue.js";
import type { AppContext } from "../../../context.js";
import { PortalApiError, type PortalApi } from "../../api-client.js";
import { SafeHtml } from "../../html.js";
import type { PageResult, PortalPage, PortalRequest } from "../../page.js";
import { creatorPages } from "../creator/index.js";
import { reviewerPages } from "../reviewer/index.js";
import type { ApiAttestation, ApiEntry } from "./api-types.js";

/**
 * The pages' own behaviour with the API answering from a table: what they send, how a refusal is
 * shown, where a success leads. (The API itself is exercised by test/integration/portal-creator-reviewer.)
 */
type Call = { method: "GET" | "POST"; path: string; body?: unknown };

function fakeApi(answer: (call: Call) => unknown): { api: PortalApi; calls: Call[] } {
  const calls: Call[] = [];
  const run = async <T>(call: Call): Promise<T> => {
    calls.push(call);
    const result = answer(call);
    if (result instanceof Error) throw result;
    return result as T;
  };
  const refuse = () => Promise.reject(new Error("not used by these pages"));
  return {
    calls,
    api: {
      call: refuse,
      get: (path, query) =>
        run({
          method: "GET",
          path: query ? `${path}?${new URLSearchParams(query as Record<string, string>)}` : path,
        }),
      post: (path, body) => run({ method: "POST", path, body }),
      put: refuse,
      patch: refuse,
      delete: refuse,
      download: refuse,
    },
  };
}

function request(api: PortalApi, changes: Partial<PortalRequest> = {}): PortalRequest {
  return {
    principal: { subject: "carol", roles: new Set(["creator"]), tenant: "acme" },
    displayName: "carol",
    session: {
      id: "s",
      subject: "carol",
      tokens: { access_token: "t", access_expires_at: 0, refresh_token: null, id_token: null },
      expiresAt: new Date(),
    },
    csrfToken: "csrf-token-value",
    path: "/portal/x",
    nav: [],
    params: {},
    query: {},
    form: {},
    api,
    request: {} as FastifyRequest,
    ctx: registryHolding(AGENT),
    saas: {} as SaasCatalogue,
    now: new Date("2026-12-08T03:00:00Z"),
    ...changes,
  };
}

/** The registry as the tenant-scoped database answers it: one row, whatever is asked. */
function registryHolding(entry: ApiEntry): AppContext {
  const row = {
    ...entry,
    external_services: [],
    metadata: {},
    resource_uri: null,
    tool_rules: null,
    version: 1,
    created_by: entry.owner,
    created_at: new Date(entry.created_at),
    updated_at: new Date(entry.created_at),
  };
  return { db: { query: async () => ({ rows: [row] }) } } as unknown as AppContext;
}

const page = (pages: readonly PortalPage[], method: string, path: string) =>
  pages.find((p) => p.method === method && p.path === path)!;
const markup = (result: PageResult) => {
  if (!(result instanceof SafeHtml)) throw new Error(`expected a page, got ${JSON.stringify(result)}`);
  return result.value;
};

const AGENT: ApiEntry = {
  id: "00000000-0000-4000-8000-00000000000a",
  kind: "agent",
  name: "billing-bot",
  spiffe_id: "spiffe://warden.local/agent/billing-bot",
  tenant: "acme",
  owner: "carol",
  team: "payments",
  type: "assistant",
  environment: "prod",
  capabilities: ["llm:chat", "github:repo.read"],
  status: "active",
  created_at: "2026-12-08T02:00:00Z",
};

describe("registering an agent in the portal", () => {
  const register = page(creatorPages, "POST", "/creator/agents");
  const form = {
    _csrf: "x",
    name: "Billing Bot",
    team: "payments",
    type: "assistant",
    environment: "prod",
    capabilities: "llm:chat",
  };

  test("a refused registration shows the form again: errors on the inputs, what was typed kept, the CSRF token in", async () => {
    const refusal = new PortalApiError(400, "bad_request", "invalid request", [
      { field: "name", message: 'must match pattern "^[a-z0-9][a-z0-9._-]{0,62}$"' },
    ]);
    const { api, calls } = fakeApi(() => refusal);
    const html = markup(await register.handle(request(api, { form })));
    expect(calls).toEqual([
      {
        method: "POST",
        path: "/v1/agents",
        body: {
          name: "Billing Bot",
          tenant: "acme",
          team: "payments",
          type: "assistant",
          environment: "prod",
          capabilities: ["llm:chat"],
        },
      },
    ]);
    expect(html).toContain("There is a problem");
    expect(html).toMatch(/<a href="#f-name">Name must look like this: lower-case letters/);
    expect(html).toMatch(
      /id="f-name"\s+name="name"\s+aria-describedby="f-name-hint f-name-error"\s+aria-invalid="true"/,
    );
    expect(html).toContain('value="Billing Bot"');
    expect(html).toContain('value="payments"');
    expect(html).toContain('name="_csrf" value="csrf-token-value"');
    // The tenant comes from the person's token; there is no tenant input to get wrong.
    expect(html).not.toContain('name="tenant"');
  });

  test("a registered agent leads to its status page with a notice", async () => {
    const { api } = fakeApi(() => AGENT);
    const result = await register.handle(request(api, { form: { ...form, name: "billing-bot" } }));
    const target = new URL((result as { redirect: string }).redirect, "http://portal");
    expect(target.pathname).toBe(`/portal/creator/agents/${AGENT.id}`);
    expect(target.searchParams.get("notice")).toBe(
      "Registered billing-bot (spiffe://warden.local/agent/billing-bot).",
    );
  });

  test("the API being unavailable is not a form error: it goes to the error page", async () => {
    const { api } = fakeApi(
      () => new PortalApiError(503, "unavailable", "the database is unavailable; try again"),
    );
    await expect(register.handle(request(api, { form }))).rejects.toThrow("the database is unavailable");
  });
});

describe("a reviewer's decision in the portal", () => {
  const attestation: ApiAttestation = {
    id: "00000000-0000-4000-8000-0000000000a1",
    agent_id: AGENT.id,
    tenant: "acme",
    status: "pending",
    evidence: {
      image_digest: `sha256:${"a".repeat(64)}`,
      endpoints: ["https://api.openai.com/v1"],
      security_checklist: { audit_logging: true },
    },
    declared_capabilities: ["llm:chat", "github:repo.read"],
    submitted_by: "carol",
    submitted_at: "2026-12-08T02:10:00Z",
    level: null,
    verified_capabilities: null,
    reviewed_by: null,
    reviewed_at: null,
    review_notes: null,
    rejection_reason: null,
    expires_at: null,
    revoked_by: null,
    revoked_at: null,
    revocation_reason: null,
  };
  const reviewer = { subject: "rita", roles: new Set(["reviewer"] as const), tenant: "acme" };

  function api(decision: unknown) {
    return fakeApi((call) => {
      if (call.method === "POST") return decision;
      if (call.path.startsWith("/v1/attestations/")) return attestation;
      if (call.path.startsWith("/v1/agents/")) return AGENT;
      throw new Error(`unexpected ${call.path}`);
    });
  }

  test("the review page shows the evidence and offers the declared capabilities to verify", async () => {
    const { api: fake } = api(null);
    const html = markup(
      await page(reviewerPages, "GET", "/reviewer/kya/:id").handle(
        request(fake, { principal: reviewer, params: { id: attestation.id } }),
      ),
    );
    expect(html).toContain(`<code>${attestation.evidence.image_digest}</code>`);
    expect(html).toContain("<code>https://api.openai.com/v1</code>");
    expect(html).toMatch(/name="verified_capabilities"\s+value="github:repo.read"/);
    expect(html).toMatch(/type="radio"\s+id="f-level-2"\s+name="level"\s+value="3"/);
    expect(html).toContain(`action="/portal/reviewer/kya/${attestation.id}/reject"`);
  });

  test("rejecting without a reason keeps the reviewer on the page with the reason marked as required", async () => {
    const refusal = new PortalApiError(400, "bad_request", "invalid request", [
      { field: "reason", message: "must NOT have fewer than 1 characters" },
    ]);
    const { api: fake, calls } = api(refusal);
    const reject = page(reviewerPages, "POST", "/reviewer/kya/:id/reject");
    const html = markup(
      await reject.handle(
        request(fake, { principal: reviewer, params: { id: attestation.id }, form: { reason: "  " } }),
      ),
    );
    expect(calls[0]).toEqual({
      method: "POST",
      path: `/v1/attestations/${attestation.id}/reject`,
      body: { reason: "" },
    });
    expect(html).toContain('<a href="#f-reason">Reason is required</a>');
  });

  test("an approval leads back to the queue, saying at which level", async () => {
    const { api: fake, calls } = api({ ...attestation, status: "approved", level: 2 });
    const approve = page(reviewerPages, "POST", "/reviewer/kya/:id/approve");
    const result = await approve.handle(
      request(fake, {
        principal: reviewer,
        params: { id: attestation.id },
        form: { level: "2", verified_capabilities: "llm:chat" },
      }),
    );
    expect(calls[0]!.body).toEqual({ level: 2, verified_capabilities: ["llm:chat"] });
    expect(result).toEqual({ redirect: "/portal/reviewer?notice=Approved+billing-bot+at+level+2." });
  });
});
