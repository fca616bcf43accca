import { WardenError } from "../../../lib/src/errors.js";
import { createLogger } from "../../../lib/src/logger.js";
import { VaultError } from "../../../lib/src/vault/client.js";
import type { KvSecret } from "../../../lib/src/vault/kv.js";
import { CachedLlmKeys, type LlmKeyReader } from "./cached-llm-keys.js";

const logger = createLogger("keys-test", "silent");

class FakeStore {
  secrets = new Map<string, KvSecret>();
  down = false;
  refusing = false;
  reads = 0;
  read: LlmKeyReader = async (tenant, provider) => {
    this.reads++;
    await Promise.resolve();
    if (this.down) throw new VaultError("Vault GET warden/data/llm unreachable: ECONNREFUSED", 0);
    if (this.refusing)
      throw new VaultError("Vault GET warden/data/llm failed with 403: permission denied", 403);
    return this.secrets.get(`${tenant}/${provider}`) ?? null;
  };
  put(id: string, apiKey: string): void {
    const version = (this.secrets.get(id)?.version ?? 0) + 1;
    this.secrets.set(id, { data: { api_key: apiKey }, version });
  }
}

function setup(options: { ttlMs?: number; maxStaleMs?: number } = {}) {
  const store = new FakeStore();
  let now = 1_000;
  const keys = new CachedLlmKeys(store.read, {
    ttlMs: options.ttlMs ?? 1_000,
    maxStaleMs: options.maxStaleMs ?? 0,
    logger,
    now: () => now,
  });
  return { store, keys, advance: (ms: number) => (now += ms) };
}

/** The refusal of a lookup, whether it throws at once (a cached miss) or rejects (a store read). */
async function refusal(lookup: () => unknown): Promise<WardenError> {
  try {
    await lookup();
  } catch (error) {
    if (error instanceof WardenError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

test("a key is read once, then served synchronously from the cache within the TTL", async () => {
  const { store, keys } = setup();
  store.put("acme/openai", "sk-acme-openai-1");
  expect(await keys.keyFor("acme", "openai")).toBe("sk-acme-openai-1");
  expect(keys.keyFor("acme", "openai")).toBe("sk-acme-openai-1");
  expect(store.reads).toBe(1);
});

test("concurrent requests for the same key share one read", async () => {
  const { store, keys } = setup();
  store.put("acme/openai", "sk-acme-openai-1");
  const all = await Promise.all([keys.keyFor("acme", "openai"), keys.keyFor("acme", "openai")]);
  expect(all).toEqual(["sk-acme-openai-1", "sk-acme-openai-1"]);
  expect(store.reads).toBe(1);
});

test("after the TTL a rotated key (new KV version) is used at once", async () => {
  const { store, keys, advance } = setup();
  store.put("acme/openai", "sk-acme-openai-1");
  await keys.keyFor("acme", "openai");
  store.put("acme/openai", "sk-acme-openai-2");
  expect(keys.keyFor("acme", "openai")).toBe("sk-acme-openai-1");
  advance(1_001);
  expect(await keys.keyFor("acme", "openai")).toBe("sk-acme-openai-2");
  expect(keys.scrubber().has("sk-acme-openai-2")).toBe(true);
  expect(keys.scrubber().has("sk-acme-openai-1")).toBe(false);
});

test("a provider's 401 invalidates the key: the next request reads the store", async () => {
  const { store, keys } = setup();
  store.put("acme/openai", "sk-acme-openai-1");
  await keys.keyFor("acme", "openai");
  store.put("acme/openai", "sk-acme-openai-2");
  keys.invalidate("acme", "openai");
  expect(await keys.keyFor("acme", "openai")).toBe("sk-acme-openai-2");
});

test("Vault unreachable with nothing cached: 503, never a key-less pass-through", async () => {
  const { store, keys } = setup();
  store.down = true;
  const error = await refusal(() => keys.keyFor("acme", "openai"));
  expect({ status: error.status, code: error.code }).toEqual({ status: 503, code: "unavailable" });
});

test("Vault unreachable after the TTL: the cached key serves until max-stale, then 503", async () => {
  const { store, keys, advance } = setup({ ttlMs: 1_000, maxStaleMs: 5_000 });
  store.put("acme/openai", "sk-acme-openai-1");
  await keys.keyFor("acme", "openai");
  store.down = true;
  advance(3_000);
  expect(await keys.keyFor("acme", "openai")).toBe("sk-acme-openai-1");
  advance(4_000);
  expect((await refusal(() => keys.keyFor("acme", "openai"))).status).toBe(503);
});

test("Vault refusing (403 policy) is not papered over with a stale key", async () => {
  const { store, keys, advance } = setup({ maxStaleMs: 60_000 });
  store.put("acme/openai", "sk-acme-openai-1");
  await keys.keyFor("acme", "openai");
  store.refusing = true;
  advance(1_001);
  expect((await refusal(() => keys.keyFor("acme", "openai"))).status).toBe(503);
});

test("a tenant without a key gets 403 naming provider and tenant; the miss is cached", async () => {
  const { store, keys } = setup();
  const error = await refusal(() => keys.keyFor("globex", "anthropic"));
  expect({ status: error.status, message: error.message }).toEqual({
    status: 403,
    message: "no anthropic API key is configured for tenant globex",
  });
  await refusal(() => keys.keyFor("globex", "anthropic"));
  expect(store.reads).toBe(1);
});

test("a tenant name that could escape its KV folder is refused before any read", async () => {
  const { store, keys } = setup();
  expect((await refusal(() => keys.keyFor("../admin", "openai"))).status).toBe(403);
  expect(store.reads).toBe(0);
});
