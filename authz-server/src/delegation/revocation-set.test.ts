import { RevocationSet } from "./revocation-set.js";

test("a revoked id stays revoked until its token would have expired, whatever notices say later", () => {
  const set = new RevocationSet();
  set.add("a", 100);
  set.add("a", 50); // a late, older notice does not shorten it
  set.add("b", 200);
  expect(set.has("a")).toBe(true);
  expect(set.prune(100)).toBe(1);
  expect(set.has("a")).toBe(false);
  expect(set.has("b")).toBe(true);
  expect(set.size).toBe(1);
});
