import {
  normalizeAuditEvent,
  normalizeTypedEvent,
  type AuditEventInput,
} from "../../../lib/src/audit/event.js";
import { auth, type CheckRequest } from "../../../lib/src/envoy/services.js";
import { authorize, REFUSE_ALL_DELEGATIONS, type AuthorizerDeps } from "../authorizer.js";
import type { Decision } from "../check-response.js";
import type { AgentDirectory } from "../identity/source.js";
import type { PeerIdentity } from "../identity/peer-certificate.js";
import { decisionAuditor } from "./decision-audit.js";
import { DECISION_ACTION } from "./decision-event.js";

const AGENT_UUID = "0b7e3f4c-8a52-4c1e-9a57-3d4b2f1e6c11";
const SPIFFE = "spiffe://warden.local/agent/ledger-bot";

function check(path: string, headers: Record<string, string> = {}): CheckRequest {
  return auth.CheckRequest.decode(
    auth.CheckRequest.encode({
      attributes: {
        source: { principal: SPIFFE },
        request: {
          http: { id: "req-9", method: "GET", path, host: "api.example", headers: { ...headers } },
        },
        contextExtensions: { service: "google-drive", kind: "saas", path_prefix: "/google-drive" },
      },
    }).finish(),
  );
}

const directory: AgentDirectory = {
  lookup: (spiffeId) =>
    spiffeId === SPIFFE
      ? {
          agent: {
            id: AGENT_UUID,
            spiffe_id: SPIFFE,
            kind: "agent",
            name: "ledger-bot",
            owner: "carl",
            team: "finance",
            type: "assistant",
            environment: "prod",
            tenant: "acme",
            status: "active",
            capabilities: [],
          },
          kya: {
            status: "approved",
            level: 2,
            verified_capabilities: [],
            attestation_id: "a1",
            issued_at: 0,
            expires_at: 0,
          },
        }
      : undefined,
};

function deps(decide: () => Decision, identify?: () => PeerIdentity): AuthorizerDeps {
  return {
    policy: () => ({ revision: "rev-1", evaluate: decide }),
    directory,
    delegations: REFUSE_ALL_DELEGATIONS,
    nowNs: () => Date.now() * 1e6,
    newDecisionId: () => "dec-1",
    ...(identify ? { identify } : {}),
  };
}

const allow = (): Decision => ({ allow: true, status: 200, reason: "allowed", headers: {}, metadata: {} });
const deny = (): Decision => ({
  allow: false,
  status: 403,
  reason: "scope_not_delegated",
  headers: {},
  metadata: {},
});

function audited(options: { allowSample?: number; random?: () => number } = {}) {
  const events: AuditEventInput[] = [];
  const audit = decisionAuditor({
    writer: {
      submitTyped: (event) => {
        events.push(event);
        normalizeTypedEvent(event);
      },
    },
    logger: { error: () => undefined },
    allowSample: options.allowSample ?? 1,
    ...(options.random ? { random: options.random } : {}),
  });
  const decide = (request: CheckRequest, d: AuthorizerDeps) => audit(authorize(request, d).record, request);
  return { events, decide };
}

describe("decision audit", () => {
  it("records a policy denial with the agent's identity, tenant, reason and a redacted path", () => {
    const { events, decide } = audited();
    decide(check("/google-drive/files?pageSize=5&access_token=ya29.SECRET&key=AIzaSECRET"), deps(deny));
    expect(events).toHaveLength(1);
    const entry = normalizeAuditEvent(events[0]);
    expect(entry).toMatchObject({
      tenant: "acme",
      source: "authz-server",
      action: DECISION_ACTION,
      actor: SPIFFE,
      agent_id: AGENT_UUID,
      agent_spiffe_id: SPIFFE,
      decision: "deny",
      reason: "scope_not_delegated",
      decision_id: "dec-1",
      request_id: "req-9",
      resource_type: "saas",
      resource_id: "google-drive",
    });
    expect(entry.details).toMatchObject({
      status: 403,
      method: "GET",
      path: "/google-drive/files?pageSize=5&access_token=[REDACTED]&key=[REDACTED]",
      policy_revision: "rev-1",
      kya: "approved",
    });
    expect(JSON.stringify(entry)).not.toContain("SECRET");
  });

  it("records a delegation token's refusal without the token", () => {
    const { events, decide } = audited();
    decide(check("/google-drive/files", { "x-warden-delegation": "eyJhbGciOi.TOKEN.SIG" }), deps(deny));
    expect(events[0]!.details).toMatchObject({ delegation: { valid: false } });
    expect(JSON.stringify(events)).not.toContain("TOKEN");
  });

  it("records a refusal before the policy (unverifiable certificate) in the unknown tenant", () => {
    const { events, decide } = audited();
    decide(
      check("/google-drive/files"),
      deps(allow, () => ({ ok: false, status: 401, reason: "certificate_invalid", message: "bad cert" })),
    );
    expect(normalizeAuditEvent(events[0])).toMatchObject({
      tenant: "unknown",
      decision: "deny",
      reason: "certificate_invalid",
      agent_spiffe_id: null,
      details: { status: 401, path: "/google-drive/files", presented_identity: SPIFFE },
    });
  });

  it("records every allow by default, and samples allows only when configured, never denials", () => {
    const all = audited();
    for (let i = 0; i < 10; i++) all.decide(check("/google-drive/files"), deps(allow));
    expect(all.events).toHaveLength(10);

    let n = 0;
    const sampled = audited({ allowSample: 0.25, random: () => (n++ % 4) / 4 });
    for (let i = 0; i < 8; i++) sampled.decide(check("/google-drive/files"), deps(allow));
    for (let i = 0; i < 8; i++) sampled.decide(check("/google-drive/files"), deps(deny));
    expect(sampled.events.filter((e) => e.decision === "allow")).toHaveLength(2);
    expect(sampled.events.filter((e) => e.decision === "deny")).toHaveLength(8);
    expect(sampled.events.find((e) => e.decision === "allow")!.details).toMatchObject({ allow_sample: 0.25 });
  });
});
