import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { makeCertificate } from "../../lib/src/spiffe/testing/certificates.js";
import {
  freePort,
  REPO_ROOT,
  RUN_DIR,
  startProcess,
  toolPath,
  waitFor,
  type ManagedProcess,
} from "./process.js";

/**
 * A real OpenBao dev server with a TLS listener (`-dev-tls`: OpenBao makes its own CA and server
 * certificate), for components that log in with TLS cert auth. Set up like production, at a small
 * scale: KV v2 at `warden/`, cert auth with one role per component bound to the component's SPIFFE
 * ID (a URI SAN) and its least-privilege policy from `vault/`. The client certificate stands in for
 * the component's X.509-SVID until SPIRE issues it; it is signed by a test CA made with openssl.
 */
export const EXTPROC_SPIFFE_ID = "spiffe://warden.local/warden/extproc";

export interface VaultTlsClient {
  /** PEM files the component presents (WARDEN_VAULT_CLIENT_CERT / WARDEN_VAULT_CLIENT_KEY). */
  certFile: string;
  keyFile: string;
  spiffeId: string;
}

export class VaultTls {
  private readonly agent: Agent;

  private constructor(
    readonly address: string,
    /** The CA of OpenBao's server certificate (VAULT_CACERT). */
    readonly caFile: string,
    private readonly rootToken: string,
    private readonly process: ManagedProcess,
    readonly dir: string,
  ) {
    this.agent = new Agent({ ca: readFileSync(caFile), keepAlive: false });
  }

  static async start(name = "vault-tls"): Promise<VaultTls> {
    const port = await freePort();
    const rootToken = randomUUID();
    const dir = join(RUN_DIR, `${name}-${process.pid}-${port}`);
    mkdirSync(dir, { recursive: true });
    const bao = startProcess({
      name: `${name}-openbao-${port}`,
      command: toolPath("bao"),
      args: ["server", "-dev", "-dev-tls", `-dev-tls-cert-dir=${dir}`],
      env: {
        BAO_DEV_ROOT_TOKEN_ID: rootToken,
        BAO_DEV_LISTEN_ADDRESS: `127.0.0.1:${port}`,
        BAO_LOG_LEVEL: "warn",
      },
    });
    const caFile = join(dir, "vault-ca.pem");
    await waitFor(
      "OpenBao (TLS) to write its CA",
      () => {
        if (!bao.running) throw new Error(`OpenBao exited:\n${bao.log().slice(-2000)}`);
        try {
          return readFileSync(caFile, "utf8").includes("BEGIN CERTIFICATE");
        } catch {
          return false;
        }
      },
      30_000,
    );
    const vault = new VaultTls(`https://127.0.0.1:${port}`, caFile, rootToken, bao, dir);
    await waitFor(
      "OpenBao (TLS) to be unsealed",
      async () => (await vault.request("GET", "sys/health").catch(() => null))?.status === 200,
      30_000,
    );
    await vault.request("POST", "sys/mounts/warden", { type: "kv", options: { version: "2" } });
    await vault.request("POST", "sys/auth/cert", { type: "cert" });
    return vault;
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

  /** A root-token API call (test setup only). */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.address}/v1/${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            "x-vault-token": this.rootToken,
            ...(payload === undefined ? {} : { "content-type": "application/json" }),
          },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (part: Buffer) => parts.push(part));
          res.on("end", () => {
            const text = Buffer.concat(parts).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status >= 400 && path !== "sys/health") {
              reject(new Error(`OpenBao ${method} ${path}: ${status} ${text}`));
              return;
            }
            resolve({ status, body: (text ? JSON.parse(text) : undefined) as T });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  get running(): boolean {
    return this.process.running;
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    await this.process.stop();
  }
}

export function startVaultTls(name?: string): Promise<VaultTls> {
  return VaultTls.start(name);
}
