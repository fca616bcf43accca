import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, REPO_ROOT, startProcess, toolPath, waitFor, type ManagedProcess } from "./process.js";

/**
 * A real OpenBao dev server for tests: in memory, on a free loopback port, with the transit engine,
 * the `warden-signing` and `warden-tokens` keys (ECDSA P-256, for ES256 JWS), the KV v2 mount `warden/`, and every policy
 * in vault/*.hcl loaded (policy name = file name, e.g. "control-plane"), so tests can run components with their least-privilege tokens. The
 * root token goes through the environment, not the command line.
 */
export const SIGNING_KEY = "warden-signing";
/** Signs delegations and access tokens (docs/delegations.md). */
export const TOKEN_SIGNING_KEY = "warden-tokens";

export class VaultDev {
  private constructor(
    readonly address: string,
    readonly rootToken: string,
    private readonly process: ManagedProcess,
  ) {}

  static async start(): Promise<VaultDev> {
    const port = await freePort();
    const rootToken = randomUUID();
    const process = startProcess({
      name: `openbao-${port}`,
      command: toolPath("bao"),
      args: ["server", "-dev"],
      env: {
        BAO_DEV_ROOT_TOKEN_ID: rootToken,
        BAO_DEV_LISTEN_ADDRESS: `127.0.0.1:${port}`,
        BAO_LOG_LEVEL: "warn",
      },
    });
    const vault = new VaultDev(`http://127.0.0.1:${port}`, rootToken, process);
    await waitFor(
      "OpenBao to be unsealed",
      async () => {
        if (!process.running) throw new Error(`OpenBao exited:\n${process.log().slice(-2000)}`);
        const response = await fetch(`${vault.address}/v1/sys/health`).catch(() => undefined);
        return response?.status === 200;
      },
      30_000,
    );
    await vault.request("POST", "sys/mounts/transit", { type: "transit" });
    await vault.request("POST", `transit/keys/${SIGNING_KEY}`, { type: "ecdsa-p256" });
    await vault.request("POST", `transit/keys/${TOKEN_SIGNING_KEY}`, { type: "ecdsa-p256" });
    await vault.request("POST", "sys/mounts/warden", { type: "kv", options: { version: "2" } });
    for (const file of readdirSync(join(REPO_ROOT, "vault")).filter((f) => f.endsWith(".hcl"))) {
      const policy = readFileSync(join(REPO_ROOT, "vault", file), "utf8");
      await vault.request("PUT", `sys/policies/acl/${file.replace(/\.hcl$/, "")}`, { policy });
    }
    return vault;
  }

  /** A root-token API call (test setup only). */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    token = this.rootToken,
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.address}/v1/${path}`, {
      method,
      headers: {
        "x-vault-token": token,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok && token === this.rootToken)
      throw new Error(`OpenBao ${method} ${path}: ${response.status} ${text}`);
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** A token holding only the named policies (from vault/*.hcl), e.g. "control-plane". */
  async tokenFor(...policies: string[]): Promise<string> {
    const { body } = await this.request<{ auth: { client_token: string } }>("POST", "auth/token/create", {
      policies,
      no_default_policy: true,
      ttl: "1h",
    });
    return body.auth.client_token;
  }

  /** Adds a new version of the signing key (key rotation). */
  async rotateSigningKey(): Promise<void> {
    await this.request("POST", `transit/keys/${SIGNING_KEY}/rotate`);
  }

  /** Adds a new version of the token key (delegations and access tokens). */
  async rotateTokenKey(): Promise<void> {
    await this.request("POST", `transit/keys/${TOKEN_SIGNING_KEY}/rotate`);
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }
}

export function startVault(): Promise<VaultDev> {
  return VaultDev.start();
}
