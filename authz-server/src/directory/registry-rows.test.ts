import {
  attestationClaimsFor,
  changedAgentId,
  directoryEntryFor,
  isTenantChange,
  parseRegistryRow,
  type AttestationClaims,
  type RegistryRow,
} from "./registry-rows.js";

const AGENT_ID = "0b6f3c1e-5d7a-4b8e-9f10-2a3b4c5d6e7f";
const ATTESTATION_ID = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
const SPIFFE_ID = "spiffe://warden.local/agent/research-bot";

function row(overrides: Partial<RegistryRow> = {}): RegistryRow {
  return parseRegistryRow({
    id: AGENT_ID,
    kind: "agent",
    name: "research-bot",
    spiffe_id: SPIFFE_ID,
    tenant: "acme",
    owner: "carl",
    team: "research",
    type: "assistant",
    environment: "prod",
    capabilities: ["llm:chat"],
    status: "active",
    kya_id: ATTESTATION_ID,
    kya_status: "approved",
    kya_jws: "header.payload.signature",
    ...overrides,
  });
}

function signedClaims(overrides: Record<string, unknown> = {}, kya: Record<string, unknown> = {}) {
  return {
    iss: "spiffe://warden.local/warden/control-plane",
    sub: SPIFFE_ID,
    aud: "warden",
    jti: ATTESTATION_ID,
    iat: 1_767_225_600,
    nbf: 1_767_225_600,
    exp: 1_775_001_600,
    kya: {
      attestation_id: ATTESTATION_ID,
      agent_id: AGENT_ID,
      kind: "agent",
      tenant: "acme",
      level: 2,
      verified_capabilities: ["llm:chat"],
      declared_capabilities: ["llm:chat", "github:repo.read"],
      evidence: { image_digest: null, code_hash: null },
      reviewed_by: "rita",
      ...kya,
    },
    ...overrides,
  };
}

function claimsOf(payload: unknown, r = row()): AttestationClaims {
  const fit = attestationClaimsFor(payload, r);
  if ("problem" in fit) throw new Error(fit.problem);
  return fit.claims;
}

describe("registry rows → index entries", () => {
  test("an approved, verified attestation gives the policy its level as a number (policies compare it) and its times in nanoseconds", () => {
    const entry = directoryEntryFor(row(), claimsOf(signedClaims()));
    expect(entry.kya).toEqual({
      status: "approved",
      level: 2,
      verified_capabilities: ["llm:chat"],
      attestation_id: ATTESTATION_ID,
      issued_at: 1_767_225_600 * 1e9,
      expires_at: 1_775_001_600 * 1e9,
    });
    expect(entry.agent).toEqual({
      id: AGENT_ID,
      spiffe_id: SPIFFE_ID,
      kind: "agent",
      name: "research-bot",
      owner: "carl",
      team: "research",
      type: "assistant",
      environment: "prod",
      tenant: "acme",
      status: "active",
      capabilities: ["llm:chat"],
    });
  });

  test("an approval whose signature did not verify counts as no attestation", () => {
    expect(directoryEntryFor(row(), null).kya.status).toBe("none");
  });

  test("revoked and pending attestations keep their status (the policy names it); rejected ones are none", () => {
    expect(directoryEntryFor(row({ kya_status: "revoked" }), null).kya).toMatchObject({
      status: "revoked",
      attestation_id: ATTESTATION_ID,
      level: null,
      expires_at: null,
    });
    expect(directoryEntryFor(row({ kya_status: "pending", kya_jws: null }), null).kya.status).toBe("pending");
    expect(directoryEntryFor(row({ kya_status: "rejected", kya_jws: null }), null).kya.status).toBe("none");
    expect(directoryEntryFor(row({ kya_id: null, kya_status: null, kya_jws: null }), null).kya.status).toBe(
      "none",
    );
  });

  test("suspended and revoked agents stay in the index with their status", () => {
    expect(directoryEntryFor(row({ status: "suspended" }), null).agent.status).toBe("suspended");
    expect(directoryEntryFor(row({ status: "revoked" }), null).agent.status).toBe("revoked");
  });

  test("a row the schema does not expect is refused with the column named", () => {
    expect(() => row({ status: "deleted" as RegistryRow["status"] })).toThrow(/registry row: status/);
  });
});

describe("a verified attestation must be about the row it is stored in", () => {
  test.each([
    ["another agent's SPIFFE ID", signedClaims({ sub: "spiffe://warden.local/agent/other" }), /sub/],
    ["another attestation's id", signedClaims({ jti: "other" }), /jti/],
    ["another agent's id", signedClaims({}, { agent_id: "other" }), /agent_id/],
    ["another tenant", signedClaims({}, { tenant: "globex" }), /tenant/],
    ["another audience", signedClaims({ aud: "someone-else" }), /aud/],
    ["no level", signedClaims({}, { level: undefined }), /kya.level/],
    ["a level out of range", signedClaims({}, { level: 7 }), /kya.level/],
    ["not an object", "just text", /claim/],
  ])("%s is refused", (_what, payload, problem) => {
    const fit = attestationClaimsFor(payload, row());
    expect("problem" in fit && fit.problem).toMatch(problem);
  });

  test("an issuer is checked only when one is configured", () => {
    expect("claims" in attestationClaimsFor(signedClaims({ iss: "x" }), row())).toBe(true);
    const fit = attestationClaimsFor(signedClaims({ iss: "x" }), row(), "spiffe://warden.local/warden/cp");
    expect("problem" in fit && fit.problem).toMatch(/iss/);
    expect("claims" in attestationClaimsFor(signedClaims({ aud: ["x", "warden"] }), row())).toBe(true);
  });
});

describe("registry notifications", () => {
  test("name the agent whose entry changed, for agent and attestation changes", () => {
    expect(
      changedAgentId(
        JSON.stringify({ v: 1, entity: "agent", op: "upsert", id: AGENT_ID, status: "suspended" }),
      ),
    ).toBe(AGENT_ID);
    expect(
      changedAgentId(JSON.stringify({ v: 1, entity: "attestation", id: ATTESTATION_ID, agent_id: AGENT_ID })),
    ).toBe(AGENT_ID);
  });

  test("anything else is not understood", () => {
    expect(changedAgentId("not json")).toBeUndefined();
    expect(changedAgentId(JSON.stringify({ v: 2, entity: "agent", id: AGENT_ID }))).toBeUndefined();
    expect(changedAgentId(JSON.stringify({ v: 1, entity: "agent", id: "'; DROP" }))).toBeUndefined();
  });
});

describe("MCP server rows", () => {
  const mcpRow = (extra: Record<string, unknown>) =>
    row({
      kind: "mcp_server",
      spiffe_id: "spiffe://warden.local/mcp/files",
      ...extra,
    } as Partial<RegistryRow>);

  test("carry their tool rules (validated), resource URI and external services", () => {
    const entry = directoryEntryFor(
      mcpRow({
        tool_rules: { tools: { read_file: { agents: ["*"] } } },
        resource_uri: "https://files.example/mcp",
        external_services: ["google-drive"],
      }),
      null,
    );
    expect(entry.mcp).toEqual({
      toolRules: { default: "deny", tools: { read_file: { agents: ["*"] } }, prompts: {}, resources: {} },
      toolRulesProblem: null,
      resourceUri: "https://files.example/mcp",
      externalServices: ["google-drive"],
    });
  });

  test("a stored rules document that does not validate is kept out, with the problem", () => {
    const entry = directoryEntryFor(mcpRow({ tool_rules: { tools: { x: { approval: "maybe" } } } }), null);
    expect(entry.mcp?.toolRules).toBeNull();
    expect(entry.mcp?.toolRulesProblem).toMatch(/approval/);
  });

  test("agents have no MCP facts", () => {
    expect(directoryEntryFor(row(), null).mcp).toBeUndefined();
  });
});

describe("the tenant's state", () => {
  test("a suspended tenant reaches the policy input with the agent (reason tenant_suspended there)", () => {
    expect(directoryEntryFor(row({ tenant_status: "suspended" }), null).agent.tenant_status).toBe(
      "suspended",
    );
  });

  test("an agent whose tenant has no row carries no tenant state", () => {
    expect(directoryEntryFor(row({ tenant_status: null }), null).agent).not.toHaveProperty("tenant_status");
  });

  test("a tenant notification asks for a full resync, not an agent update", () => {
    const payload = JSON.stringify({ v: 1, entity: "tenant", op: "upsert", id: "acme" });
    expect(isTenantChange(payload)).toBe(true);
    expect(changedAgentId(payload)).toBeUndefined();
    expect(isTenantChange(JSON.stringify({ v: 1, entity: "agent", id: AGENT_ID }))).toBe(false);
    expect(isTenantChange("not json")).toBe(false);
  });
});
