import { authorizationUrl, newPkcePair, newState, s256Challenge, stateHash } from "./pkce.js";

test("the S256 challenge of RFC 7636's example verifier", () => {
  // RFC 7636 Appendix B.
  expect(s256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  );
});

test("verifiers and states are long, URL-safe and different every time", () => {
  const a = newPkcePair();
  const b = newPkcePair();
  expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(a.verifier).not.toBe(b.verifier);
  expect(newState()).not.toBe(newState());
  expect(stateHash("x")).toHaveLength(64);
});

test("the authorization URL carries PKCE S256, state and the provider's own parameters", () => {
  const url = new URL(
    authorizationUrl("https://accounts.example.com/auth?hd=acme.com", {
      clientId: "cid",
      redirectUri: "https://warden.example.com/v1/connections/callback",
      scope: "a b",
      state: "st",
      challenge: "ch",
      extra: { access_type: "offline", response_type: "token" },
    }),
  );
  expect(Object.fromEntries(url.searchParams)).toEqual({
    hd: "acme.com",
    access_type: "offline",
    response_type: "code",
    client_id: "cid",
    redirect_uri: "https://warden.example.com/v1/connections/callback",
    scope: "a b",
    state: "st",
    code_challenge: "ch",
    code_challenge_method: "S256",
  });
});
