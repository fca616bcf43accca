import { BoundedLabel, hashedUser, OTHER } from "./labels.js";

test("a capped label reports new values past its limit as other, and keeps the ones it has", () => {
  const label = new BoundedLabel(2);
  expect(label.of("a")).toBe("a");
  expect(label.of("b")).toBe("b");
  expect(label.of("c")).toBe(OTHER);
  expect(label.of("a")).toBe("a");
  expect(label.of(null)).toBe("none");
});

test("a user label is a stable hash that never shows the user id, and differs per tenant", () => {
  const alice = hashedUser("acme", "alice@example.com");
  expect(alice).toMatch(/^[0-9a-f]{16}$/);
  expect(alice).toBe(hashedUser("acme", "alice@example.com"));
  expect(alice).not.toBe(hashedUser("globex", "alice@example.com"));
  expect(hashedUser("acme", null)).toBe("none");
});
