import { describe, expect, it } from "@jest/globals";
import { csrfToken, sameOriginRequest, validCsrfToken } from "./csrf.js";
import { newSecret, seal, unseal } from "./crypto.js";

describe("CSRF protection", () => {
  it("accepts only the token of the same session", () => {
    const session = newSecret();
    expect(validCsrfToken(session, csrfToken(session))).toBe(true);
    expect(validCsrfToken(session, csrfToken(newSecret()))).toBe(false);
    expect(validCsrfToken(session, undefined)).toBe(false);
    expect(validCsrfToken(session, ["x"])).toBe(false);
  });

  it("refuses a post from another origin, or one that says nothing about where it came from", () => {
    const portal = "http://localhost:8081";
    expect(sameOriginRequest({ origin: portal }, portal)).toBe(true);
    expect(sameOriginRequest({ origin: "https://evil.example" }, portal)).toBe(false);
    expect(sameOriginRequest({ origin: "null" }, portal)).toBe(false);
    expect(sameOriginRequest({ "sec-fetch-site": "same-origin" }, portal)).toBe(true);
    expect(sameOriginRequest({ "sec-fetch-site": "cross-site" }, portal)).toBe(false);
    expect(sameOriginRequest({}, portal)).toBe(false);
    // Referrer-Policy: no-referrer makes Chromium send Origin: null on our own forms.
    expect(sameOriginRequest({ origin: "null", "sec-fetch-site": "same-origin" }, portal)).toBe(true);
    expect(sameOriginRequest({ origin: "null" }, portal)).toBe(false);
    expect(sameOriginRequest({ origin: "null", "sec-fetch-site": "cross-site" }, portal)).toBe(false);
    expect(
      sameOriginRequest({ origin: "https://evil.example", "sec-fetch-site": "same-origin" }, portal),
    ).toBe(false);
  });
});

describe("sealed session tokens", () => {
  it("open only with the session's own id", () => {
    const session = newSecret();
    const sealed = seal(session, '{"access_token":"abc"}');
    expect(sealed).not.toContain("abc");
    expect(unseal(session, sealed)).toBe('{"access_token":"abc"}');
    expect(unseal(newSecret(), sealed)).toBeNull();
    expect(unseal(session, sealed.slice(0, -2) + "AA")).toBeNull();
    expect(unseal(session, "garbage")).toBeNull();
  });
});
