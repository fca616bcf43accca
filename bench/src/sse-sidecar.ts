import { providerDestinations, type Destination } from "../../lib/src/envoy/bootstrap.js";
import { startStack, type Stack } from "../../test/harness/stack.js";
import { EXTPROC_SPIFFE_ID, startVaultTls, type VaultTls } from "../../test/harness/vault-tls.js";
import { startOpenAiStub } from "../../test/stubs/llm-openai.js";
import type { LlmStub } from "../../test/stubs/llm-stub-server.js";
import { extprocVaultLogin } from "../../test/support/extproc-vault-login.js";

/** The OpenAI key held in Vault for tenant acme; the stub accepts only it. */
export const SSE_VAULT_KEY = "sk-bench-vault-openai-0123456789";

/** The servers behind the streaming measurements: Vault holding the key, the OpenAI stub, the sidecar. */
export interface SseSidecar {
  vault: VaultTls;
  stub: LlmStub;
  stack: Stack;
  /** Every provider routed to the stub, for the other Envoys a measurement starts. */
  destinations: () => Destination[];
  /** extproc-server's environment: the Vault login and the default tenant. */
  extprocEnv: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/**
 * Vault (TLS, extproc's cert role, tenant acme's OpenAI key), the OpenAI stub, and the sidecar
 * (ext_authz, ext_proc injecting the Vault key) routing every provider to the stub. What started is
 * stopped again if a later step fails.
 */
export async function startSseSidecar(name: string): Promise<SseSidecar> {
  let vault: VaultTls | undefined;
  let stub: LlmStub | undefined;
  let stack: Stack | undefined;
  const stop = async (): Promise<void> => {
    await stack?.stop();
    await stub?.close();
    await vault?.stop();
  };
  try {
    vault = await startVaultTls(name);
    const extproc = await vault.addCertRole("extproc", EXTPROC_SPIFFE_ID, ["extproc.hcl"]);
    await vault.putLlmKey("acme", "openai", SSE_VAULT_KEY);
    stub = await startOpenAiStub({ validKeys: () => [SSE_VAULT_KEY] });
    const port = stub.port;
    const destinations = (): Destination[] =>
      providerDestinations().map((d) => ({ ...d, upstream: { address: "127.0.0.1", port, tls: false } }));
    const extprocEnv = { ...extprocVaultLogin(vault, extproc), WARDEN_DEFAULT_TENANT: "acme" };
    stack = await startStack({ name, destinations, extprocEnv });
    return { vault, stub, stack, destinations, extprocEnv, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
