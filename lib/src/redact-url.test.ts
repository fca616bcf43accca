import { redactQueryParams, redactUrl, URL_REDACTED } from "./redact-url.js";

const R = URL_REDACTED;

describe("redactUrl", () => {
  it("returns a URL without a query or fragment unchanged (same string)", () => {
    const path = "/openai/v1/chat/completions";
    expect(redactUrl(path)).toBe(path);
  });

  it("redacts OAuth codes and states in a callback URL, keeping other parameters", () => {
    expect(redactUrl("/v1/connections/callback?code=4%2F0Aabc&state=s3cr3t&scope=drive.readonly")).toBe(
      `/v1/connections/callback?code=${R}&state=${R}&scope=drive.readonly`,
    );
  });

  it.each([
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "key",
    "api_key",
    "client_secret",
    "code_verifier",
    "sig",
    "signature",
    "password",
    "X-Amz-Signature",
    "X-Goog-Credential",
    "ACCESS_TOKEN",
    "page_token",
    "access%5Ftoken",
  ])("redacts the value of %s", (name) => {
    const out = redactUrl(`https://api.example.com/x?${name}=VALUE123&a=b`);
    expect(out).toBe(`https://api.example.com/x?${name}=${R}&a=b`);
    expect(out).not.toContain("VALUE123");
  });

  it("redacts every occurrence of a repeated parameter and keeps ; separators", () => {
    expect(redactUrl("/x?token=a;token=b&keep=1")).toBe(`/x?token=${R};token=${R}&keep=1`);
  });

  it("redacts implicit-flow tokens in a fragment", () => {
    expect(redactUrl("https://app/cb#access_token=abc&token_type=bearer&state=xyz")).toBe(
      `https://app/cb#access_token=${R}&token_type=bearer&state=${R}`,
    );
  });

  it("treats an undecodable parameter name as a secret", () => {
    expect(redactUrl("/x?%E0%A4%A=abc")).toBe(`/x?%E0%A4%A=${R}`);
  });

  it("leaves names without a value and ordinary parameters alone", () => {
    expect(redactUrl("/v1/agents?limit=10&tenant=acme&flag")).toBe("/v1/agents?limit=10&tenant=acme&flag");
    expect(redactUrl("/x?")).toBe("/x?");
  });
});

describe("redactQueryParams", () => {
  it("redacts secret values of a parsed query and returns the same object when none", () => {
    expect(redactQueryParams({ key: "K1", alt: "json", token: ["a", "b"] })).toEqual({
      key: R,
      alt: "json",
      token: R,
    });
    const plain = { alt: "json" };
    expect(redactQueryParams(plain)).toBe(plain);
  });
});
