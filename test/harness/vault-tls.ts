import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  BaoClient,
  openBaoComponent,
  openBaoFiles,
  readRootToken,
} from "../../lib/src/runtime/components/openbao.js";
import { makeCertificate } from "../../lib/src/spiffe/testing/certificates.js";
import { freePorts, REPO_ROOT, startComponent, RUN_DIR, type ManagedProcess } from "./process.js";

/**
 * A real OpenBao with a TLS listener, started by the runtime's openbao component as `warden up`
 * starts it (a local CA, initialised and unsealed, transit keys, KV v2 at `warden/`, the vault/*.hcl
 * policies, cert auth), in its own folder under `.run/`. Tests add cert auth roles, one per
 * component, bound to the component's SPIFFE ID (a URI SAN) and its least-privilege policy from
 * `vault/`. The client certificate stands in for the component's X.509-SVID until SPIRE issues it;
 * it is signed by a test CA made with openssl.
 */
export const EXTPROC_SPIFFE_ID = "spiffe://warden.local/warden/extproc";

export interface VaultTlsClient {
  /** PEM files the component presents (WARDEN_VAULT_CLIENT_CERT / WARDEN_VAULT_CLIENT_KEY). */
  certFile: string;
  keyFile: string;
  spiffeId: string;
}

export class VaultTls {
  private readonly bao: BaoClient;

  private constructor(
    readonly address: string,
    /** The CA of OpenBao's server certificate (VAULT_CACERT). */
    readonly caFile: string,
    private readonly rootToken: string,
    private readonly process: ManagedProcess,
    readonly dir: string,
  ) {
    this.bao = new BaoClient(address, caFile);
  }

  static async start(name = "vault-tls"): Promise<VaultTls> {
    const [port, clusterPort] = (await freePorts(2)) as [number, number];
    const dir = join(RUN_DIR, `${name}-${process.pid}-${port}`);
    const component = openBaoComponent(dir, port, clusterPort, "warden.local");
    const bao = await startComponent(component, `${name}-openbao-${port}`);
    const files = openBaoFiles(dir, port);
    return new VaultTls(files.address, files.caFile, readRootToken(files), bao, dir);
  }

  /**
   * A client certificate for `spiffeId`, signed by a fresh test CA, and a cert auth role trusting that
   * CA for that SPIFFE ID only, with the policies in `policyFiles` (paths under the repository's `vault/`).
   */
  async addCertRole(
    role: string,
    spiffeId: string,
    policyFiles: string[],
    tokenTtl = "1h",
  ): Promise<VaultTlsClient> {
    const policies: string[] = [];
    for (const file of policyFiles) {
      const policyName = file.replace(/^.*\//, "").replace(/\.hcl$/, "");
      const policy = readFileSync(join(REPO_ROOT, "vault", file), "utf8");
      await this.request("PUT", `sys/policies/acl/${policyName}`, { policy });
      policies.push(policyName);
    }
    const ca = makeCertificate({ subject: `/CN=${role} test CA`, ca: true });
    const client = makeCertificate({ subject: `/CN=${role}`, uris: [spiffeId], issuer: ca });
    await this.request("POST", `auth/cert/certs/${role}`, {
      certificate: ca.certPem,
      allowed_uri_sans: [spiffeId],
      token_policies: policies,
      token_no_default_policy: true,
      token_ttl: tokenTtl,
    });
    const certFile = join(this.dir, `${role}-client.pem`);
    const keyFile = join(this.dir, `${role}-client-key.pem`);
    writeFileSync(certFile, client.certPem);
    writeFileSync(keyFile, client.keyPem, { mode: 0o600 });
    return { certFile, keyFile, spiffeId };
  }

  /** Writes a new version of `warden/llm/<tenant>/<provider>`; returns the KV version. */
  async putLlmKey(tenant: string, provider: string, apiKey: string): Promise<number> {
    const { body } = await this.request<{ data: { version: number } }>(
      "POST",
      `warden/data/llm/${tenant}/${provider}`,
      {
        data: { api_key: apiKey },
      },
    );
    return body.data.version;
  }

  /** A root-token API call (test setup only); an error status other than sys/health's throws. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const answer = await this.bao.call<T>(method, path, this.rootToken, body);
    if (answer.status >= 400 && path !== "sys/health")
      throw new Error(`OpenBao ${method} ${path}: ${answer.status} ${JSON.stringify(answer.body ?? "")}`);
    return { status: answer.status, body: answer.body as T };
  }

  get running(): boolean {
    return this.process.running;
  }

  async stop(): Promise<void> {
    this.bao.close();
    await this.process.stop();
  }
}

export function startVaultTls(name?: string): Promise<VaultTls> {
  return VaultTls.start(name);
}
