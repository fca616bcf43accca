import { extProc } from "../envoy/services.js";
import { toStruct } from "../envoy/struct.js";
import type { google } from "../gen/envoy.js";
import { SAMPLE_HANDOFF } from "./sample.js";
import { EXT_AUTHZ_NAMESPACE, encodeHandOff, readAuthzHandOff, type HandOffFacts } from "./contract.js";

const FACTS: HandOffFacts = {
  decisionId: "dec-0001",
  policyRevision: "rev-7",
  agentSpiffeId: "spiffe://warden.local/agent/researcher",
  agentId: "agt-1",
  tenant: "acme",
  userId: "user-9",
  delegationId: "del-3",
  scopes: ["llm:chat", "drive:read"],
  service: "openai",
  kind: "llm",
  policyHeaders: [],
};

const WIRE_FIELDS = SAMPLE_HANDOFF;

/** The metadata as extproc-server receives it: through the real ext_proc codec. */
function throughEnvoy(struct: google.protobuf.IStruct) {
  const request = { metadataContext: { filterMetadata: { [EXT_AUTHZ_NAMESPACE]: struct } } };
  return extProc.ProcessingRequest.decode(extProc.ProcessingRequest.encode(request).finish()).metadataContext;
}

const fromEnvoy = (fields: Record<string, unknown>) => throughEnvoy(toStruct(fields));

describe("the ext_authz hand-off", () => {
  test("what authz-server encodes, extproc-server reads back unchanged", () => {
    const reading = readAuthzHandOff(
      throughEnvoy(encodeHandOff(FACTS, { team: "support", model: "gpt-4o-mini" })),
    );
    expect(reading).toEqual({ ok: true, handOff: { ...FACTS, team: "support", model: "gpt-4o-mini" } });
  });

  test("the wire keys are snake_case with the policy's metadata under `policy`", () => {
    const struct = encodeHandOff({ ...FACTS, policyHeaders: ["x-warden-team"] }, { rule: "r" });
    expect(Object.keys(struct.fields ?? {})).toEqual([
      ...Object.keys(WIRE_FIELDS),
      "policy_headers",
      "policy",
    ]);
  });

  test("every field of the decision is read from Envoy's forwarded metadata", () => {
    const reading = readAuthzHandOff(fromEnvoy(WIRE_FIELDS));
    expect(reading).toEqual({ ok: true, handOff: { ...FACTS, team: null, model: null } });
  });

  test("the policy's team and resolved model come from its decision metadata; other shapes read as unknown", () => {
    const withPolicy = readAuthzHandOff(
      fromEnvoy({ ...WIRE_FIELDS, policy: { team: "support", model: "gpt-4o-mini", rule: "r" } }),
    );
    expect(withPolicy.ok && withPolicy.handOff).toMatchObject({ team: "support", model: "gpt-4o-mini" });
    const odd = readAuthzHandOff(fromEnvoy({ ...WIRE_FIELDS, policy: { team: 3, model: "" } }));
    expect(odd.ok && odd.handOff).toMatchObject({ team: null, model: null });
  });

  test("nulls from authz-server (no delegation, no user) read as null, not as a malformed decision", () => {
    const reading = readAuthzHandOff(
      fromEnvoy({
        ...WIRE_FIELDS,
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
    ["no decision id", { ...WIRE_FIELDS, decision_id: undefined }, "decision_id is missing"],
    ["an empty decision id", { ...WIRE_FIELDS, decision_id: "" }, "decision_id is missing"],
    ["an agent that is not a SPIFFE ID", { ...WIRE_FIELDS, agent_spiffe_id: "researcher" }, "SPIFFE"],
    ["a numeric tenant", { ...WIRE_FIELDS, tenant: 7 }, "tenant is not a string"],
    ["scopes that are not a list", { ...WIRE_FIELDS, scopes: "llm:chat" }, "scopes is not a list"],
    ["a scope that is not a string", { ...WIRE_FIELDS, scopes: ["ok", 3] }, "non-string"],
  ])("a decision with %s is malformed", (_name, fields, detail) => {
    const reading = readAuthzHandOff(fromEnvoy(fields));
    expect(reading.ok).toBe(false);
    if (!reading.ok) {
      expect(reading.problem).toBe("malformed");
      expect(reading.detail).toContain(detail);
    }
  });

  test("a malformed decision still names its decision id, so the refusal can be traced", () => {
    const reading = readAuthzHandOff(fromEnvoy({ ...WIRE_FIELDS, agent_spiffe_id: 12 }));
    expect(reading).toMatchObject({ ok: false, problem: "malformed", decisionId: "dec-0001" });
  });
});

describe("the MCP facts in the policy's metadata", () => {
  const visibility = {
    tools: { rules: [{ pattern: "read_*", visible: true }], default_visible: false },
    prompts: { rules: [], default_visible: false },
    resources: { rules: [], default_visible: false },
    capabilities: ["read_*"],
  };

  test("what the policy emits on an allowed MCP call, extproc-server reads through Envoy's codec", () => {
    const reading = readAuthzHandOff(
      throughEnvoy(
        encodeHandOff(
          { ...FACTS, service: "docs", kind: "mcp" },
          {
            mcp: {
              server: "docs",
              method: "tools/list",
              name: null,
              arguments_digest: null,
              protocol_version: "2025-06-18",
              audit_arguments: false,
            },
            mcp_visibility: visibility,
            mcp_upstream_credentials: { service: "github" },
          },
        ),
      ),
    );
    expect(reading.ok && reading.handOff.mcp).toEqual({
      call: {
        server: "docs",
        method: "tools/list",
        name: null,
        argumentsDigest: null,
        protocolVersion: "2025-06-18",
        auditArguments: false,
      },
      visibility,
      upstreamCredentials: { service: "github" },
    });
  });

  test("malformed MCP facts read as nothing allowed; routes without them carry none", () => {
    const reading = readAuthzHandOff(
      throughEnvoy(
        encodeHandOff(FACTS, {
          mcp: { method: 7 },
          mcp_visibility: { tools: "all" },
          mcp_upstream_credentials: "github",
        }),
      ),
    );
    expect(reading.ok && reading.handOff.mcp).toEqual({
      call: null,
      visibility: null,
      upstreamCredentials: null,
    });
    const plain = readAuthzHandOff(throughEnvoy(encodeHandOff(FACTS, { team: "t" })));
    expect(plain.ok && plain.handOff.mcp).toBeUndefined();
  });
});
