import { readFile } from "node:fs/promises";
import { z } from "zod";
import { VaultClient, VaultError } from "../../../lib/src/vault/client.js";
import { tlsFetch, type TlsFetch } from "./tls-fetch.js";

/**
 * extproc-server's Vault login: TLS cert auth (`auth/<mount>/login`) with a client certificate (the
 * X.509-SVID once SPIRE provides it; a cert/key file pair until then). The files are read at every
 * login, so a rotated certificate is used from the next login on. The token is renewed by logging in
 * again before its lease runs out, or at once when Vault answers 403 (token expired or revoked).
 */
export interface VaultCertAuthOptions {
  address: string;
  /** CA bundle for Vault's server certificate (VAULT_CACERT); the system roots when absent. */
  caFile?: string | undefined;
  certFile: string;
  keyFile: string;
  /** The cert auth role (`auth/cert/certs/<role>`); Vault tries every role when absent. */
  role?: string | undefined;
  authMount?: string;
  timeoutMs: number;
  now?: () => number;
}

const loginResponse = z.object({
  auth: z.object({
    client_token: z.string().min(1),
    lease_duration: z.number().int().min(0),
  }),
});

// Log in again when this share of the lease is used up, long before Vault would refuse the token.
const RENEW_AT_LEASE_SHARE = 0.8;

export class VaultCertSession {
  private client: VaultClient | null = null;
  private transport: TlsFetch | null = null;
  private renewAt = 0;
  private loggingIn: Promise<VaultClient> | null = null;
  private readonly now: () => number;

  constructor(private readonly options: VaultCertAuthOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Runs Vault calls with a logged-in client; a 403 logs in again and retries once. */
  async run<T>(call: (client: VaultClient) => Promise<T>): Promise<T> {
    const client = await this.loggedIn();
    try {
      return await call(client);
    } catch (error) {
      if (!(error instanceof VaultError) || error.status !== 403) throw error;
      if (this.client === client) this.client = null;
      return call(await this.loggedIn());
    }
  }

  close(): void {
    this.transport?.close();
    this.transport = null;
    this.client = null;
  }

  private loggedIn(): Promise<VaultClient> {
    if (this.client && this.now() < this.renewAt) return Promise.resolve(this.client);
    this.loggingIn ??= this.login().finally(() => {
      this.loggingIn = null;
    });
    return this.loggingIn;
  }

  private async login(): Promise<VaultClient> {
    const { options } = this;
    let transport: TlsFetch;
    try {
      const [ca, cert, key] = await Promise.all([
        options.caFile ? readFile(options.caFile) : Promise.resolve(undefined),
        readFile(options.certFile),
        readFile(options.keyFile),
      ]);
      transport = tlsFetch({ ca, cert, key });
    } catch (error) {
      throw new VaultError(
        `Vault client certificate unreadable: ${(error as NodeJS.ErrnoException).code ?? "error"}`,
        0,
      );
    }
    const mount = options.authMount ?? "cert";
    const path = `auth/${mount}/login`;
    const startedAt = this.now();
    let response: Response;
    try {
      response = await transport.fetch(`${options.address.replace(/\/$/, "")}/v1/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-vault-request": "true" },
        body: JSON.stringify(options.role ? { name: options.role } : {}),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      transport.close();
      throw new VaultError(
        `Vault POST ${path} unreachable: ${error instanceof Error ? error.message : String(error)}`,
        0,
      );
    }
    const text = await response.text();
    if (!response.ok) {
      transport.close();
      throw new VaultError(
        `Vault cert login failed with ${response.status}: ${vaultErrors(text)}`,
        response.status,
      );
    }
    const parsed = loginResponse.safeParse(safeJson(text));
    if (!parsed.success) {
      transport.close();
      throw new VaultError("Vault cert login answered without a token", 502);
    }
    const lease = parsed.data.auth.lease_duration;
    const previous = this.transport;
    // Calls already under way on the previous connection finish first.
    if (previous) setTimeout(() => previous.close(), options.timeoutMs * 2).unref();
    this.transport = transport;
    this.renewAt = lease === 0 ? Number.POSITIVE_INFINITY : startedAt + lease * 1000 * RENEW_AT_LEASE_SHARE;
    this.client = new VaultClient({
      address: options.address,
      token: parsed.data.auth.client_token,
      fetch: transport.fetch,
      timeoutMs: options.timeoutMs,
    });
    return this.client;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Vault's own error strings (they never contain a token). */
function vaultErrors(text: string): string {
  const body = safeJson(text);
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) ? errors.map(String).join("; ") : "no details";
}
