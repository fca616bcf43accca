import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { WardenError } from "../../lib/src/errors.js";
import { createLogger } from "../../lib/src/logger.js";
import { VaultError } from "../../lib/src/vault/client.js";
import { destroyKvSecret, readKvSecret, writeKvSecret } from "../../lib/src/vault/kv.js";
import { makeCertificate } from "../../lib/src/spiffe/testing/certificates.js";
import { loadExtprocConfig } from "../../extproc-server/src/config.js";
import { vaultCertConfig } from "../../extproc-server/src/credentials/config.js";
import { VaultCertSession } from "../../extproc-server/src/credentials/vault-cert-session.js";
import { vaultLlmKeys } from "../../extproc-server/src/credentials/vault-llm-keys.js";
import {
  EXTPROC_SPIFFE_ID,
  startVaultTls,
  type VaultTls,
  type VaultTlsClient,
} from "../harness/vault-tls.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

/**
 * extproc-server's side of Vault, against a real OpenBao with TLS: cert auth with a client
 * certificate bound to extproc's SPIFFE ID, the least-privilege policy vault/extproc.hcl, KV v2 reads
 * with versions, and the key cache's behaviour when OpenBao goes away.
 */
const logger = createLogger("llm-vault-keys-test", "silent");
let vault: VaultTls;
let extproc: VaultTlsClient;

function settings(client: VaultTlsClient, extra: NodeJS.ProcessEnv = {}) {
  const config = loadExtprocConfig({
    VAULT_ADDR: vault.address,
    VAULT_CACERT: vault.caFile,
    WARDEN_VAULT_CLIENT_CERT: client.certFile,
    WARDEN_VAULT_CLIENT_KEY: client.keyFile,
    ...extra,
  });
  return { config, vault: vaultCertConfig(config)! };
}

beforeAll(async () => {
  vault = await startVaultTls("llm-vault-keys");
  extproc = await vault.addCertRole("extproc", EXTPROC_SPIFFE_ID, ["extproc.hcl"]);
}, 60_000);

afterAll(async () => {
  await vault?.stop();
}, TEARDOWN_TIMEOUT_MS);

test("extproc logs in with its certificate and reads a tenant's key with its KV version", async () => {
  await vault.putLlmKey("acme", "openai", "sk-acme-openai-v1");
  const session = new VaultCertSession(settings(extproc).vault);
  const first = await session.run((client) => readKvSecret(client, "warden", ["llm", "acme", "openai"]));
  expect(first).toEqual({ data: { api_key: "sk-acme-openai-v1" }, version: 1 });
  await vault.putLlmKey("acme", "openai", "sk-acme-openai-v2");
  const second = await session.run((client) => readKvSecret(client, "warden", ["llm", "acme", "openai"]));
  expect(second).toEqual({ data: { api_key: "sk-acme-openai-v2" }, version: 2 });
  expect(await session.run((client) => readKvSecret(client, "warden", ["llm", "acme", "nobody"]))).toBeNull();
  session.close();
});

test("a revoked token is replaced by logging in again, without failing the read", async () => {
  await vault.putLlmKey("acme", "google-ai", "AIza-acme-google-v1");
  const session = new VaultCertSession(settings(extproc).vault);
  const read = () => session.run((client) => readKvSecret(client, "warden", ["llm", "acme", "google-ai"]));
  expect((await read())?.version).toBe(1);
  const firstClient = await session.run(async (client) => client);
  // Every token cert auth has issued is revoked (as when an operator cuts extproc off and back on).
  await vault.request("PUT", "sys/leases/revoke-prefix/auth/cert/login");
  const revoked = await readKvSecret(firstClient, "warden", ["llm", "acme", "google-ai"]).catch(
    (e: unknown) => e,
  );
  expect((revoked as VaultError).status).toBe(403);
  expect((await read())?.data).toEqual({ api_key: "AIza-acme-google-v1" });
  session.close();
});

test("the extproc policy: read LLM keys, read and rotate existing OAuth tokens, nothing more", async () => {
  await vault.request("POST", "warden/data/oauth/acme/alice/github", {
    data: { access_token: "vault:v1:sealed-token" },
  });
  const session = new VaultCertSession(settings(extproc).vault);
  const refusal = (action: Promise<unknown>) =>
    action.then(
      () => null,
      (error: unknown) => (error instanceof VaultError ? error.status : error),
    );
  // Allowed: what injection and refresh need.
  const token = await session.run((client) =>
    readKvSecret(client, "warden", ["oauth", "acme", "alice", "github"]),
  );
  expect(token?.data).toEqual({ access_token: "vault:v1:sealed-token" });
  const rotated = await session.run((client) =>
    writeKvSecret(
      client,
      "warden",
      ["oauth", "acme", "alice", "github"],
      { access_token: "vault:v1:new" },
      { cas: 1 },
    ),
  );
  expect(rotated).toBe(2);
  // Refused: inventing a connection, deleting one, listing anything, changing an LLM key.
  const refused = await Promise.all([
    refusal(
      session.run((client) =>
        writeKvSecret(client, "warden", ["oauth", "acme", "mallory", "github"], {}, { cas: 0 }),
      ),
    ),
    refusal(session.run((client) => destroyKvSecret(client, "warden", ["oauth", "acme", "alice", "github"]))),
    refusal(session.run((client) => client.request("LIST", "warden/metadata/llm"))),
    refusal(session.run((client) => client.request("LIST", "warden/metadata/oauth/acme"))),
    refusal(
      session.run((client) => writeKvSecret(client, "warden", ["llm", "acme", "openai"], { api_key: "x" })),
    ),
  ]);
  expect(refused).toEqual([403, 403, 403, 403, 403]);
  session.close();
});

test("a certificate for another SPIFFE ID, or from another CA, cannot log in", async () => {
  const other = await vault.addCertRole("other", "spiffe://warden.local/warden/other", []);
  // Signed by the CA of the "other" role, but claiming extproc's identity: no role matches both.
  const forgedCa = makeCertificate({ subject: "/CN=forger CA", ca: true });
  const forged = makeCertificate({ subject: "/CN=extproc", uris: [EXTPROC_SPIFFE_ID], issuer: forgedCa });
  const forgedClient: VaultTlsClient = {
    certFile: join(vault.dir, "forged.pem"),
    keyFile: join(vault.dir, "forged-key.pem"),
    spiffeId: EXTPROC_SPIFFE_ID,
  };
  writeFileSync(forgedClient.certFile, forged.certPem);
  writeFileSync(forgedClient.keyFile, forged.keyPem);
  for (const client of [forgedClient, other]) {
    const session = new VaultCertSession({ ...settings(client).vault, role: "extproc" });
    const error = await session
      .run((c) => readKvSecret(c, "warden", ["llm", "acme", "openai"]))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VaultError);
    expect((error as VaultError).unavailable).toBe(false);
    session.close();
  }
});

test("the key cache: fresh keys from Vault, then 503 when Vault is gone and nothing usable is cached", async () => {
  await vault.putLlmKey("acme", "anthropic", "sk-ant-acme-v1");
  const { config, vault: login } = settings(extproc, {
    WARDEN_LLM_KEY_CACHE_TTL_MS: "3000",
    WARDEN_LLM_KEY_MAX_STALE_MS: "0",
  });
  const { keys, session } = vaultLlmKeys(login, config, logger);
  expect(await keys.keyFor("acme", "anthropic")).toBe("sk-ant-acme-v1");
  const readAt = Date.now();
  expect(keys.scrubber().has("sk-ant-acme-v1")).toBe(true);
  await vault.stop();
  // Within the TTL the cached key still serves; after it, nothing usable is left.
  expect(keys.keyFor("acme", "anthropic")).toBe("sk-ant-acme-v1");
  await new Promise((resolve) => setTimeout(resolve, 3_050 - (Date.now() - readAt)));
  const error = await Promise.resolve()
    .then(() => keys.keyFor("acme", "anthropic"))
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WardenError);
  expect((error as WardenError).status).toBe(503);
  session.close();
});
