import {
  isCredentialHeader,
  isCredentialQueryParam,
  redactCredentialHeaders,
  redactCredentialQuery,
  REDACTED,
} from "./credentials.js";

describe("credential names", () => {
  test.each([
    "Authorization",
    "x-auth-token",
    "PRIVATE-TOKEN",
    "x-amz-security-token",
    "cookie",
    "x-api-key",
  ])("header %s carries a credential", (name) => expect(isCredentialHeader(name)).toBe(true));

  test.each(["content-type", "x-request-id", "anthropic-version", "openai-beta"])(
    "header %s does not",
    (name) => expect(isCredentialHeader(name)).toBe(false),
  );

  test.each(["key", "api_key", "API-KEY", "access_token", "X-Amz-Security-Token", "sig", "apikey"])(
    "query parameter %s carries a credential",
    (name) => expect(isCredentialQueryParam(name)).toBe(true),
  );

  test.each(["alt", "pageSize", "q", "model", "keyword"])("query parameter %s does not", (name) =>
    expect(isCredentialQueryParam(name)).toBe(false),
  );

  test("redaction keeps the names and replaces the values", () => {
    expect(redactCredentialHeaders({ "x-auth-token": "t0k", accept: "*/*" })).toEqual({
      "x-auth-token": REDACTED,
      accept: "*/*",
    });
    const query = { key: "AIza-secret", alt: "sse", access_token: ["a", "b"] };
    expect(redactCredentialQuery(query)).toEqual(["key", "access_token"]);
    expect(query).toEqual({ key: REDACTED, alt: "sse", access_token: REDACTED });
  });
});
