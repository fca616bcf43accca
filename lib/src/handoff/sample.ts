/** A decision as authz-server puts it on the wire (snake_case), for tests of either side. */
export const SAMPLE_HANDOFF = {
  decision_id: "dec-0001",
  policy_revision: "rev-7",
  agent_spiffe_id: "spiffe://warden.local/agent/researcher",
  agent_id: "agt-1",
  tenant: "acme",
  user_id: "user-9",
  delegation_id: "del-3",
  scopes: ["llm:chat", "drive:read"],
  service: "openai",
  kind: "llm",
} as const;
