import { sourceIdentity } from "./source.js";

describe("sourceIdentity (plaintext mode: the principal names the caller)", () => {
  it("names the caller and its trust domain from a valid SPIFFE ID", () => {
    expect(sourceIdentity("spiffe://warden.local/agent/research-bot")).toEqual({
      spiffe_id: "spiffe://warden.local/agent/research-bot",
      trust_domain: "warden.local",
      verified: true,
    });
  });

  it.each([
    "",
    "research-bot",
    "https://warden.local/agent/research-bot",
    "spiffe://Warden.local/agent/research-bot",
    "spiffe://warden.local/agent//research-bot",
    "spiffe://warden.local/agent/research-bot/",
    "spiffe://warden.local/agent/../admin",
    "spiffe://warden.local/agent/research bot",
    "O=SPIRE,CN=research-bot",
  ])("names nobody for %j (what the SPIFFE ID specification rejects)", (principal) => {
    expect(sourceIdentity(principal)).toEqual({ spiffe_id: null, trust_domain: null, verified: false });
  });
});
