import { identityFromClaims, idTokenClaims } from "./account-identity.js";

test("the account is named from OIDC claims, GitHub's /user and Drive's about", () => {
  expect(identityFromClaims({ sub: "1081", email: "ursula@example.com", name: "Ursula" })).toEqual({
    subject: "1081",
    email: "ursula@example.com",
    name: "Ursula",
  });
  expect(identityFromClaims({ id: 583231, login: "octocat", name: null })).toEqual({
    subject: "583231",
    email: null,
    name: "octocat",
  });
  expect(
    identityFromClaims({
      user: { displayName: "Ursula", emailAddress: "u@example.com", permissionId: "p1" },
    }),
  ).toEqual({ subject: "p1", email: "u@example.com", name: "Ursula" });
});

test("nothing usable, control characters and inherited properties name no account", () => {
  expect(identityFromClaims({})).toBeNull();
  expect(identityFromClaims({ email: "evil\u0000@example.com", name: "a\nb" })).toBeNull();
  expect(
    identityFromClaims(Object.create({ email: "inherited@example.com" }) as Record<string, unknown>),
  ).toBeNull();
});

test("ID token claims are read from the payload; anything else is null", () => {
  const payload = Buffer.from(JSON.stringify({ sub: "s", email: "e@example.com" })).toString("base64url");
  expect(idTokenClaims(`eyJhbGciOiJSUzI1NiJ9.${payload}.sig`)).toEqual({ sub: "s", email: "e@example.com" });
  expect(idTokenClaims("not-a-jwt")).toBeNull();
  expect(idTokenClaims(`a.${Buffer.from("[1]").toString("base64url")}.c`)).toBeNull();
});
