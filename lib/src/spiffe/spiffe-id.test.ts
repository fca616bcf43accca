import {
  isSpiffeId,
  parseSpiffeId,
  parseTrustDomain,
  spiffeIdFromSegments,
  trustDomainId,
  tryParseSpiffeId,
} from "./spiffe-id.js";

describe("SPIFFE ID parsing", () => {
  it("splits a workload ID into trust domain and path", () => {
    expect(parseSpiffeId("spiffe://warden.local/agent/research-bot")).toEqual({
      trustDomain: "warden.local",
      path: "/agent/research-bot",
      id: "spiffe://warden.local/agent/research-bot",
    });
  });

  it("accepts a trust domain ID and the full allowed character sets", () => {
    expect(parseSpiffeId("spiffe://warden.local").path).toBe("");
    expect(isSpiffeId("spiffe://a-b_c.9/Seg_1.x-Y/z")).toBe(true);
  });

  it.each([
    ["", "scheme"],
    ["http://warden.local/agent/x", "scheme"],
    ["SPIFFE://warden.local/agent/x", "scheme"],
    ["spiffe:///agent/x", "trust domain is missing"],
    ["spiffe://Warden.local/agent/x", "lowercase"],
    ["spiffe://warden.local:8080/agent/x", "lowercase"],
    ["spiffe://user@warden.local/agent/x", "lowercase"],
    ["spiffe://warden.local/agent//x", "empty segments"],
    ["spiffe://warden.local/agent/./x", "dot segments"],
    ["spiffe://warden.local/agent/../x", "dot segments"],
    ["spiffe://warden.local/agent/x/", "trailing slash"],
    ["spiffe://warden.local/agent/x?y=1", "path segment characters"],
    ["spiffe://warden.local/agent/x#frag", "path segment characters"],
    ["spiffe://warden.local/agent/a%20b", "path segment characters"],
    ["spiffe://warden.local/agent/ü", "path segment characters"],
    ["spiffe://warden.local/", "trailing slash"],
    ["spiffe://warden.local/agent/.", "dot segments"],
    ["spiffe://warden.local/a b", "path segment characters"],
  ])("rejects %j (%s)", (text, reason) => {
    expect(() => parseSpiffeId(text)).toThrow(reason);
    expect(isSpiffeId(text)).toBe(false);
    expect(tryParseSpiffeId(text)).toBeNull();
  });

  it("tryParseSpiffeId gives the same parts as parseSpiffeId, without throwing", () => {
    for (const text of [
      "spiffe://warden.local/agent/research-bot",
      "spiffe://warden.local",
      "spiffe://a-b_c.9/Seg_1.x-Y/z",
      "spiffe://td/.hidden/..x/x..",
    ]) {
      expect(tryParseSpiffeId(text)).toEqual(parseSpiffeId(text));
    }
  });

  it("reports the first problem in reading order", () => {
    expect(() => parseSpiffeId("spiffe://Warden.local/agent//x/")).toThrow("lowercase");
    expect(() => parseSpiffeId("spiffe://warden.local/agent//x/")).toThrow("trailing slash");
    expect(() => parseSpiffeId("spiffe://warden.local/a%/./x")).toThrow("path segment characters");
    expect(() => parseSpiffeId("spiffe://warden.local/../a%")).toThrow("dot segments");
  });

  it("rejects IDs longer than 2048 bytes and trust domains longer than 255", () => {
    expect(() => parseSpiffeId(`spiffe://td/${"a".repeat(2040)}`)).toThrow("2048");
    expect(() => parseSpiffeId(`spiffe://${"a".repeat(256)}/x`)).toThrow("255");
    // 683 three-byte characters are 2049 bytes: the byte limit, not the character check, answers.
    expect(() => parseSpiffeId(`spiffe://td/${"€".repeat(683)}`)).toThrow("2048");
    expect(isSpiffeId(`spiffe://td/${"a".repeat(2036)}`)).toBe(true);
  });

  it("builds IDs from validated segments", () => {
    expect(spiffeIdFromSegments("warden.local", "mcp", "github").id).toBe("spiffe://warden.local/mcp/github");
    expect(() => spiffeIdFromSegments("warden.local", "agent", "a/b")).toThrow("path segment characters");
    expect(() => spiffeIdFromSegments("warden.local", "agent", "")).toThrow("empty segments");
  });

  it("reads a trust domain given by name or as its ID", () => {
    expect(parseTrustDomain("warden.local")).toBe("warden.local");
    expect(parseTrustDomain("spiffe://partner.example")).toBe("partner.example");
    expect(() => parseTrustDomain("spiffe://warden.local/agent/x")).toThrow("not a trust domain");
    expect(trustDomainId("warden.local")).toBe("spiffe://warden.local");
  });
});
