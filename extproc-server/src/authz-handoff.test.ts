import { readAuthzHandOff } from "./authz-handoff.js";
import { authzMetadata, SAMPLE_HANDOFF, wire } from "./testing/envoy-messages.js";

const fromEnvoy = (fields: Record<string, unknown>) =>
  wire.requestHeaders({ ":path": "/" }, { metadata: authzMetadata(fields) }).metadataContext;

describe("reading the ext_authz hand-off", () => {
  test("every field of the decision is read from Envoy's forwarded metadata", () => {
    const reading = readAuthzHandOff(fromEnvoy(SAMPLE_HANDOFF));
    expect(reading).toEqual({
      ok: true,
      handOff: {
        decisionId: "dec-0001",
        agentSpiffeId: "spiffe://warden.local/agent/researcher",
        agentId: "agt-1",
        tenant: "acme",
        userId: "user-9",
        delegationId: "del-3",
        scopes: ["llm:chat", "drive:read"],
        service: "openai",
        kind: "llm",
        policyRevision: "rev-7",
        policyHeaders: [],
        team: null,
        model: null,
      },
    });
  });

  test("the policy's team and resolved model come from its decision metadata; other shapes read as unknown", () => {
    const withPolicy = readAuthzHandOff(
      fromEnvoy({ ...SAMPLE_HANDOFF, policy: { team: "support", model: "gpt-4o-mini", rule: "r" } }),
    );
    expect(withPolicy.ok && withPolicy.handOff).toMatchObject({ team: "support", model: "gpt-4o-mini" });
    const odd = readAuthzHandOff(fromEnvoy({ ...SAMPLE_HANDOFF, policy: { team: 3, model: "" } }));
    expect(odd.ok && odd.handOff).toMatchObject({ team: null, model: null });
  });

  test("nulls from authz-server (no delegation, no user) read as null, not as a malformed decision", () => {
    const reading = readAuthzHandOff(
      fromEnvoy({
        ...SAMPLE_HANDOFF,
        user_id: null,
        delegation_id: null,
        scopes: [],
        policy: { any: "thing" },
      }),
    );
    expect(reading.ok && reading.handOff).toMatchObject({ userId: null, delegationId: null, scopes: [] });
  });

  test("no metadata, or only another filter's, means ext_authz did not run", () => {
    expect(readAuthzHandOff(undefined)).toMatchObject({ ok: false, problem: "absent" });
    expect(readAuthzHandOff({ filterMetadata: { "envoy.filters.http.rbac": { fields: {} } } })).toMatchObject(
      {
        ok: false,
        problem: "absent",
      },
    );
  });

  test.each([
    ["no decision id", { ...SAMPLE_HANDOFF, decision_id: undefined }, "decision_id is missing"],
    ["an empty decision id", { ...SAMPLE_HANDOFF, decision_id: "" }, "decision_id is missing"],
    ["an agent that is not a SPIFFE ID", { ...SAMPLE_HANDOFF, agent_spiffe_id: "researcher" }, "SPIFFE"],
    ["a numeric tenant", { ...SAMPLE_HANDOFF, tenant: 7 }, "tenant is not a string"],
    ["scopes that are not a list", { ...SAMPLE_HANDOFF, scopes: "llm:chat" }, "scopes is not a list"],
    ["a scope that is not a string", { ...SAMPLE_HANDOFF, scopes: ["ok", 3] }, "non-string"],
  ])("a decision with %s is malformed", (_name, fields, detail) => {
    const reading = readAuthzHandOff(fromEnvoy(fields));
    expect(reading.ok).toBe(false);
    if (!reading.ok) {
      expect(reading.problem).toBe("malformed");
      expect(reading.detail).toContain(detail);
    }
  });

  test("a malformed decision still names its decision id, so the refusal can be traced", () => {
    const reading = readAuthzHandOff(fromEnvoy({ ...SAMPLE_HANDOFF, agent_spiffe_id: 12 }));
    expect(reading).toMatchObject({ ok: false, problem: "malformed", decisionId: "dec-0001" });
  });
});
