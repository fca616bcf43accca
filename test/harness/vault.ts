import { join } from "node:path";
import {
  openBaoComponent,
  openBaoFiles,
  readRootToken,
  TRANSIT_KEYS,
} from "../../lib/src/runtime/components/openbao.js";
import { freePorts, RUN_DIR, startComponent, type ManagedProcess } from "./process.js";

/**
 * A real OpenBao for tests, started by the runtime's openbao component as `warden up` starts it
 * (initialised, unsealed, the transit engine with the `warden-signing` and `warden-tokens` keys, ECDSA
 * P-256 for ES256 JWS, the KV v2 mount `warden/`, every policy in vault/*.hcl loaded, policy name =
 * file name, e.g. "control-plane"), but listening on plain HTTP on a free loopback port, so tests can
 * run components with their least-privilege tokens.
 */
/** Signs attestations; the second signs delegations and access tokens (docs/delegations.md). */
export const [SIGNING_KEY, TOKEN_SIGNING_KEY] = TRANSIT_KEYS;

export class VaultDev {
  private constructor(
    readonly address: string,
    readonly rootToken: string,
    private readonly process: ManagedProcess,
  ) {}

  static async start(): Promise<VaultDev> {
    const [port, clusterPort] = (await freePorts(2)) as [number, number];
    const dir = join(RUN_DIR, `openbao-${process.pid}-${port}`);
    const component = openBaoComponent(dir, port, clusterPort, "warden.local", { tls: false });
    const bao = await startComponent(component, `openbao-${port}`);
    const files = openBaoFiles(dir, port, false);
    return new VaultDev(files.address, readRootToken(files), bao);
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
