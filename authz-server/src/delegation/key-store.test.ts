import { generateKeyPairSync } from "node:crypto";
import { JwksKeyStore } from "./key-store.js";

function jwkOf(kid: string) {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" };
}

test("an unknown kid asks for the published keys again; a key that leaves the JWKS is dropped", async () => {
  let published = [jwkOf("warden-tokens-v1")];
  let fetches = 0;
  let changes = 0;
  const store = new JwksKeyStore({
    jwksUrl: "http://cp/.well-known/jwks.json",
    refreshMs: 3_600_000,
    unknownKidCooldownMs: 0,
    fetch: (async () => {
      fetches += 1;
      return new Response(JSON.stringify({ keys: published }));
    }) as typeof fetch,
    onChange: () => (changes += 1),
  });
  await store.start();
  expect(store.keyFor("warden-tokens-v1")?.alg).toBe("ES256");
  published = [published[0]!, jwkOf("warden-tokens-v2")];
  expect(store.keyFor("warden-tokens-v2")).toBeUndefined(); // refused for now, refresh asked for
  await store.refresh();
  expect(store.keyFor("warden-tokens-v2")).toBeDefined();
  published = [published[1]!];
  await store.refresh();
  expect(store.keyFor("warden-tokens-v1")).toBeUndefined();
  expect(changes).toBe(3);
  expect(fetches).toBeGreaterThanOrEqual(3);
  store.stop();
});

test("an unreachable control plane keeps the keys already known", async () => {
  let up = true;
  const store = new JwksKeyStore({
    jwksUrl: "http://cp/.well-known/jwks.json",
    refreshMs: 3_600_000,
    fetch: (async () => {
      if (!up) throw new Error("connection refused");
      return new Response(JSON.stringify({ keys: [jwkOf("warden-tokens-v1")] }));
    }) as typeof fetch,
  });
  await store.start();
  up = false;
  await store.refresh();
  expect(store.keyFor("warden-tokens-v1")).toBeDefined();
  expect(store.lastError).toMatch(/connection refused/);
  store.stop();
});

test("the refresh an unknown kid asks for can be awaited, and a flood of unknown kids asks once per cooldown", async () => {
  let published = [jwkOf("warden-tokens-v1")];
  let fetches = 0;
  const options = {
    jwksUrl: "http://cp/.well-known/jwks.json",
    refreshMs: 3_600_000,
    fetch: (async () => {
      fetches += 1;
      return new Response(JSON.stringify({ keys: published }));
    }) as typeof fetch,
  };
  const eager = new JwksKeyStore({ ...options, unknownKidCooldownMs: 0 });
  await eager.start();
  published = [published[0]!, jwkOf("warden-tokens-v2")];
  expect(eager.pendingRefresh()).toBeUndefined();
  expect(eager.keyFor("warden-tokens-v2")).toBeUndefined(); // not yet: a refresh is asked for
  const pending = eager.pendingRefresh();
  expect(pending).toBeDefined();
  await pending;
  expect(eager.keyFor("warden-tokens-v2")).toBeDefined();
  eager.stop();

  // start() counts as the last refresh: within the cooldown, made-up kids fetch nothing.
  const patient = new JwksKeyStore({ ...options, unknownKidCooldownMs: 60_000 });
  await patient.start();
  const before = fetches;
  for (let i = 0; i < 100; i++) expect(patient.keyFor(`made-up-${i}`)).toBeUndefined();
  expect(patient.pendingRefresh()).toBeUndefined();
  expect(fetches).toBe(before);
  patient.stop();
});
