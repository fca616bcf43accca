import {
  BINDING_COOKIE,
  bindingCookie,
  bindingFrom,
  bindingHash,
  bindingMatches,
  newBinding,
} from "./browser-binding.js";

test("the binding cookie is __Host-, Secure, HttpOnly, Path=/, SameSite=Lax and has no Domain", () => {
  const cookie = bindingCookie(newBinding(), 600);
  expect(cookie.startsWith(`${BINDING_COOKIE}=`)).toBe(true);
  for (const attribute of ["Secure", "HttpOnly", "Path=/", "SameSite=Lax", "Max-Age=600"])
    expect(cookie).toContain(attribute);
  expect(cookie).not.toMatch(/Domain=/i);
});

test("only the browser holding the nonce matches; anything else does not", () => {
  const nonce = newBinding();
  const stored = bindingHash(nonce);
  expect(bindingMatches(bindingFrom(`a=b; ${BINDING_COOKIE}=${nonce}`), stored)).toBe(true);
  expect(bindingMatches(bindingFrom(`${BINDING_COOKIE}=${newBinding()}`), stored)).toBe(false);
  expect(bindingMatches(bindingFrom(undefined), stored)).toBe(false);
  expect(bindingMatches(nonce, null)).toBe(false);
  // Two binding cookies (one planted by a sibling subdomain, say) are refused rather than guessed between.
  expect(bindingFrom(`${BINDING_COOKIE}=${nonce}; ${BINDING_COOKIE}=${newBinding()}`)).toBeNull();
  expect(bindingFrom(`${BINDING_COOKIE}=short`)).toBeNull();
});
