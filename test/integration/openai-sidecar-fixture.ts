import { providerDestinations, type Destination } from "../../lib/src/envoy/bootstrap.js";
import { startStack, type Stack, type StackOptions } from "../harness/stack.js";
import { EXTPROC_SPIFFE_ID, startVaultTls, type VaultTls } from "../harness/vault-tls.js";
import { startOpenAiStub } from "../stubs/llm-openai.js";
import type { LlmStub, ProviderStubOptions } from "../stubs/llm-stub-server.js";
import { extprocVaultLogin } from "../support/extproc-vault-login.js";

/**
 * The stack the response-path suites share: OpenBao over TLS holding tenant acme's OpenAI key,
 * extproc-server logged in with its certificate, the OpenAI route pointed at a stub that accepts only
 * that key (every other route at the stack's own stub upstream).
 */
export interface OpenAiSidecar {
  vault: VaultTls;
  stub: LlmStub;
  stack: Stack;
  close(): Promise<void>;
}

export async function startOpenAiSidecar(
  name: string,
  openAiKey: string,
  options: {
    sidecar?: StackOptions["sidecar"];
    authzEnv?: NodeJS.ProcessEnv;
    extprocEnv?: NodeJS.ProcessEnv;
    stub?: Pick<ProviderStubOptions, "observe">;
  } = {},
): Promise<OpenAiSidecar> {
  const vault = await startVaultTls(name);
  const extproc = await vault.addCertRole("extproc", EXTPROC_SPIFFE_ID, ["extproc.hcl"]);
  await vault.putLlmKey("acme", "openai", openAiKey);
  const stub = await startOpenAiStub({ validKeys: () => [openAiKey], ...options.stub });
  const stack = await startStack({
    name,
    ...(options.sidecar ? { sidecar: options.sidecar } : {}),
    ...(options.authzEnv ? { authzEnv: options.authzEnv } : {}),
    destinations: (fallback) =>
      providerDestinations().map((destination): Destination => ({
        ...destination,
        upstream: {
          address: "127.0.0.1",
          port: destination.service === "openai" ? stub.port : fallback.port,
          tls: false,
        },
      })),
    extprocEnv: {
      ...extprocVaultLogin(vault, extproc),
      WARDEN_DEFAULT_TENANT: "acme",
      ...options.extprocEnv,
    },
  });
  return {
    vault,
    stub,
    stack,
    close: async () => {
      await stack.stop();
      await Promise.all([stub.close(), vault.stop()]);
    },
  };
}
