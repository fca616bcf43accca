import { newDecisionId } from "./ids.js";

describe("newDecisionId", () => {
  it("is a time prefix and 12 URL-safe characters, unique across many pool refills", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const id = newDecisionId();
      expect(id).toMatch(/^[0-9a-z]+-[A-Za-z0-9_-]{12}$/);
      ids.add(id.split("-").slice(1).join("-"));
    }
    expect(ids.size).toBe(5_000);
  });
});
