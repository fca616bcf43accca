import { issuerRefusal } from "./errors.js";

test("RFC 9207: iss must match a known issuer, and is required where the provider always sends it", () => {
  const google = { issuer: "https://accounts.google.com", iss_parameter_supported: false };
  expect(issuerRefusal("https://accounts.google.com", google)).toBeNull();
  expect(issuerRefusal(undefined, google)).toBeNull();
  expect(issuerRefusal("https://idp.attacker.example", google)).toBe("issuer_mismatch");
  const strict = { issuer: "https://login.example", iss_parameter_supported: true };
  expect(issuerRefusal(undefined, strict)).toBe("issuer_missing");
  // No issuer configured: nothing to compare with, so iss is ignored.
  expect(issuerRefusal("https://anything.example", { iss_parameter_supported: false })).toBeNull();
});
