import type { VaultTls, VaultTlsClient } from "../harness/vault-tls.js";

/** extproc-server's environment for logging in to OpenBao with its client certificate (role `extproc`). */
export function extprocVaultLogin(vault: VaultTls, login: VaultTlsClient): NodeJS.ProcessEnv {
  return {
    VAULT_ADDR: vault.address,
    VAULT_CACERT: vault.caFile,
    WARDEN_VAULT_CLIENT_CERT: login.certFile,
    WARDEN_VAULT_CLIENT_KEY: login.keyFile,
    WARDEN_VAULT_CERT_ROLE: "extproc",
  };
}
