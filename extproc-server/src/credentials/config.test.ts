import { ConfigError } from "../../../lib/src/config.js";
import { loadExtprocConfig } from "../config.js";
import { vaultCertConfig } from "./config.js";

test("without VAULT_ADDR there is no Vault, and the cache defaults apply", () => {
  const config = loadExtprocConfig({});
  expect(vaultCertConfig(config)).toBeNull();
  expect(config).toMatchObject({ WARDEN_LLM_KEY_CACHE_TTL_MS: 60_000, WARDEN_LLM_KEY_MAX_STALE_MS: 300_000 });
});

test("VAULT_ADDR without the client certificate names both missing variables", () => {
  let problems: string[] = [];
  try {
    loadExtprocConfig({ VAULT_ADDR: "https://127.0.0.1:8200" });
  } catch (error) {
    if (error instanceof ConfigError) problems = error.problems;
  }
  expect(problems).toEqual([
    expect.stringMatching(/^WARDEN_VAULT_CLIENT_CERT: required/),
    expect.stringMatching(/^WARDEN_VAULT_CLIENT_KEY: required/),
  ]);
});

test("a complete Vault setting becomes the cert login settings", () => {
  const config = loadExtprocConfig({
    VAULT_ADDR: "https://127.0.0.1:8200",
    VAULT_CACERT: "/etc/warden/vault-ca.pem",
    WARDEN_VAULT_CLIENT_CERT: "/run/svid.pem",
    WARDEN_VAULT_CLIENT_KEY: "/run/svid-key.pem",
    WARDEN_LLM_KEY_MAX_STALE_MS: "0",
  });
  expect(vaultCertConfig(config)).toEqual({
    address: "https://127.0.0.1:8200",
    caFile: "/etc/warden/vault-ca.pem",
    certFile: "/run/svid.pem",
    keyFile: "/run/svid-key.pem",
    role: undefined,
    authMount: "cert",
    kvMount: "warden",
    timeoutMs: 800,
  });
  expect(config.WARDEN_LLM_KEY_MAX_STALE_MS).toBe(0);
});
