import { ConfigError } from "../../lib/src/config.js";
import { loadExtprocConfig, transportCheck } from "./config.js";
import { vaultCertConfig } from "./credentials/config.js";

/** The problems a ConfigError lists for this environment (none when it loads). */
function problemsOf(environment: NodeJS.ProcessEnv): string[] {
  try {
    loadExtprocConfig(environment);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("extproc-server configuration", () => {
  test("defaults: loopback port 9002, info logs, no Vault and no database", () => {
    const config = loadExtprocConfig({});
    expect(config).toMatchObject({
      WARDEN_EXTPROC_LISTEN: "127.0.0.1:9002",
      WARDEN_LOG_LEVEL: "info",
      WARDEN_SHUTDOWN_GRACE_MS: 25_000,
      WARDEN_INSECURE_DEV_PLAINTEXT: false,
      WARDEN_OAUTH_PROVIDER_TIMEOUT_MS: 700,
      WARDEN_VAULT_TIMEOUT_MS: 800,
    });
    expect(config.VAULT_ADDR).toBeUndefined();
    expect(config.DATABASE_URL).toBeUndefined();
  });

  test("wrong values of every part (server, Vault keys, usage, OAuth) are reported together", () => {
    const wrong = {
      WARDEN_EXTPROC_LISTEN: "nowhere",
      WARDEN_VAULT_TIMEOUT_MS: "soon",
      DATABASE_URL: "mysql://db",
    };
    const problems = problemsOf({ ...wrong, WARDEN_OAUTH_REFRESH_MARGIN_S: "-5" });
    expect(problems.map((problem) => problem.split(":")[0])).toEqual([
      "WARDEN_EXTPROC_LISTEN",
      "WARDEN_VAULT_TIMEOUT_MS",
      "DATABASE_URL",
      "WARDEN_OAUTH_REFRESH_MARGIN_S",
    ]);
  });

  test("with Vault configured, plaintext gRPC is refused unless the development flag says so", () => {
    expect(transportCheck(loadExtprocConfig({}), true)).toEqual({
      ok: false,
      reason: expect.stringContaining("SPIFFE_ENDPOINT_SOCKET"),
    });
    expect(
      transportCheck(loadExtprocConfig({ SPIFFE_ENDPOINT_SOCKET: "unix:/tmp/agent.sock" }), true),
    ).toEqual({
      ok: true,
      insecureDev: false,
    });
    expect(transportCheck(loadExtprocConfig({ WARDEN_INSECURE_DEV_PLAINTEXT: "true" }), true)).toEqual({
      ok: true,
      insecureDev: true,
    });
    expect(transportCheck(loadExtprocConfig({}), false)).toEqual({ ok: true, insecureDev: false });
  });

  test.each(["127.0.0.1:0", "[::1]:9002", "extproc.local:443", "unix:/run/warden/extproc.sock"])(
    "%s is a listen address",
    (address) => {
      expect(loadExtprocConfig({ WARDEN_EXTPROC_LISTEN: address }).WARDEN_EXTPROC_LISTEN).toBe(address);
    },
  );

  test("every wrong value is reported at once, by variable name", () => {
    const problems = problemsOf({
      WARDEN_EXTPROC_LISTEN: "127.0.0.1:99999",
      WARDEN_LOG_LEVEL: "loud",
      WARDEN_SHUTDOWN_GRACE_MS: "-1",
    });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^WARDEN_EXTPROC_LISTEN: .*"127.0.0.1:99999"/);
    expect(problems[1]).toMatch(/^WARDEN_LOG_LEVEL/);
    expect(problems[2]).toMatch(/^WARDEN_SHUTDOWN_GRACE_MS/);
  });
});

describe("Vault key settings", () => {
  test("without VAULT_ADDR there is no Vault, and the cache defaults apply", () => {
    const config = loadExtprocConfig({});
    expect(vaultCertConfig(config)).toBeNull();
    expect(config).toMatchObject({
      WARDEN_LLM_KEY_CACHE_TTL_MS: 60_000,
      WARDEN_LLM_KEY_MAX_STALE_MS: 300_000,
    });
  });

  test("VAULT_ADDR without the client certificate names both missing variables", () => {
    expect(problemsOf({ VAULT_ADDR: "https://127.0.0.1:8200" })).toEqual([
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
});
