import { readAuthzHandOff, type AuthzHandOff } from "../../lib/src/handoff/contract.js";
import { requestHeaderEdits } from "./request-headers.js";
import {
  authzMetadata,
  envoyHeaders,
  readMutation,
  SAMPLE_HANDOFF,
  type HeaderInput,
} from "./testing/envoy-messages.js";

function handOff(fields: Record<string, unknown> = SAMPLE_HANDOFF): AuthzHandOff {
  const reading = readAuthzHandOff(authzMetadata(fields));
  if (!reading.ok) throw new Error(reading.detail);
  return reading.handOff;
}

const upstream = (headers: HeaderInput, decision = handOff()) =>
  readMutation(requestHeaderEdits(envoyHeaders(headers), decision).toMutation());

describe("request headers on their way upstream", () => {
  test("every credential the agent sent is removed, and nothing else", () => {
    const mutation = upstream([
      [":path", "/openai/v1/chat/completions"],
      ["content-type", "application/json"],
      ["authorization", "Bearer sk-agent-should-not-have-this"],
      ["x-api-key", "k1"],
      ["api-key", "k2"],
      ["proxy-authorization", "Basic Zm9vOmJhcg=="],
      ["cookie", "session=1"],
      ["cookie", "other=2"],
      ["x-goog-api-key", "k3"],
      ["user-agent", "agent/1.0"],
    ]);
    expect(mutation.remove.sort()).toEqual(
      ["api-key", "authorization", "cookie", "proxy-authorization", "x-api-key", "x-goog-api-key"].sort(),
    );
  });

  test("header names are matched whatever their case", () => {
    expect(upstream({ Authorization: "Bearer x", "X-Api-Key": "k" }).remove).toEqual([
      "authorization",
      "x-api-key",
    ]);
  });

  test("the ext_authz decision is stamped on: decision id and the agent's SPIFFE ID", () => {
    expect(upstream({ ":path": "/" }).set).toEqual({
      "x-warden-decision-id": "dec-0001",
      "x-warden-agent": "spiffe://warden.local/agent/researcher",
    });
  });

  test("an agent cannot forge Warden headers: ours overwrite its values, others are removed", () => {
    const mutation = upstream({
      "x-warden-decision-id": "forged",
      "x-warden-agent": "spiffe://warden.local/agent/admin",
      "x-warden-tenant": "other-tenant",
    });
    expect(mutation.set["x-warden-decision-id"]).toBe("dec-0001");
    expect(mutation.set["x-warden-agent"]).toBe("spiffe://warden.local/agent/researcher");
    expect(mutation.remove).toEqual(["x-warden-tenant"]);
  });

  test("without an agent identity in the decision, an agent-sent x-warden-agent is removed, not kept", () => {
    const mutation = upstream(
      { "x-warden-agent": "spiffe://warden.local/agent/admin" },
      handOff({ ...SAMPLE_HANDOFF, agent_spiffe_id: null }),
    );
    expect(mutation.set).toEqual({ "x-warden-decision-id": "dec-0001" });
    expect(mutation.remove).toEqual(["x-warden-agent"]);
  });
});
