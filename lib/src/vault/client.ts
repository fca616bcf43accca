import { readFile } from "node:fs/promises";
import type { Secret } from "../config.js";
import { openBaoOperation, recordOpenBaoRequest } from "../metrics/openbao.js";

/**
 * A small Vault/OpenBao HTTP client (fetch). The token comes from the environment or from a file
 * (re-read when Vault says the token is no longer good, so a rotating agent sidecar works); it is
 * never logged, never put in an error message and never read from a config file in plain text.
 */
export interface VaultClientOptions {
  address: string;
  token?: string | undefined;
  /** A file holding the token (e.g. written by a Vault agent); preferred over `token` when both are set. */
  tokenFile?: string | undefined;
  namespace?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class VaultError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** Vault's own error strings (they never contain the token). */
    readonly errors: string[] = [],
  ) {
    super(message);
    this.name = "VaultError";
  }

  /** Vault itself is unreachable, sealed or overloaded (as opposed to refusing the request). */
  get unavailable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export class VaultClient {
  private cachedToken: string | undefined;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: VaultClientOptions) {
    if (!options.token && !options.tokenFile)
      throw new Error("Vault client needs VAULT_TOKEN or VAULT_TOKEN_FILE");
    this.doFetch = options.fetch ?? fetch;
    this.cachedToken = options.tokenFile ? undefined : options.token;
  }

  get address(): string {
    return this.options.address;
  }

  private async token(refresh: boolean): Promise<string> {
    if (this.options.tokenFile && (refresh || this.cachedToken === undefined)) {
      this.cachedToken = (await readFile(this.options.tokenFile, "utf8")).trim();
    }
    if (!this.cachedToken) throw new VaultError("Vault token is empty", 0);
    return this.cachedToken;
  }

  /** Calls `/v1/<path>`; returns the parsed JSON body (undefined for 204). */
  async request<T>(
    method: "GET" | "POST" | "PUT" | "DELETE" | "LIST",
    path: string,
    body?: unknown,
  ): Promise<T> {
    let response = await this.send(method, path, body, false);
    if (response.status === 403 && this.options.tokenFile)
      response = await this.send(method, path, body, true);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const errors = Array.isArray((parsed as { errors?: unknown })?.errors)
        ? (parsed as { errors: unknown[] }).errors.map(String)
        : [];
      throw new VaultError(
        `Vault ${method} ${path} failed with ${response.status}${errors.length ? `: ${errors.join("; ")}` : ""}`,
        response.status,
        errors,
      );
    }
    return parsed as T;
  }

  private async send(method: string, path: string, body: unknown, refreshToken: boolean): Promise<Response> {
    const headers: Record<string, string> = {
      "x-vault-token": await this.token(refreshToken),
      "x-vault-request": "true",
    };
    if (this.options.namespace) headers["x-vault-namespace"] = this.options.namespace;
    if (body !== undefined) headers["content-type"] = "application/json";
    const started = performance.now();
    const operation = openBaoOperation(method, path);
    try {
      const response = await this.doFetch(
        `${this.options.address.replace(/\/$/, "")}/v1/${path.replace(/^\//, "")}`,
        {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
        },
      );
      recordOpenBaoRequest(operation, response.status, (performance.now() - started) / 1000);
      return response;
    } catch (error) {
      recordOpenBaoRequest(operation, 0, (performance.now() - started) / 1000);
      throw new VaultError(
        `Vault ${method} ${path} unreachable: ${error instanceof Error ? error.message : String(error)}`,
        0,
      );
    }
  }

  /** Unauthenticated health probe: true when Vault is initialised, unsealed and active. */
  async healthy(): Promise<boolean> {
    try {
      const response = await this.doFetch(`${this.options.address.replace(/\/$/, "")}/v1/sys/health`, {
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 2_000),
      });
      return response.status === 200;
    } catch {
      return false;
    }
  }
}

/** Vault settings as a process's config schema validated them (`VAULT_TOKEN` a Secret). */
export interface VaultSettings {
  readonly VAULT_ADDR?: string | undefined;
  readonly VAULT_TOKEN?: Secret | undefined;
  readonly VAULT_TOKEN_FILE?: string | undefined;
  readonly VAULT_NAMESPACE?: string | undefined;
}

/** VAULT_ADDR with VAULT_TOKEN_FILE or VAULT_TOKEN; null when Vault is not configured. */
export function vaultClientFrom(settings: VaultSettings): VaultClient | null {
  if (!settings.VAULT_ADDR) return null;
  return new VaultClient({
    address: settings.VAULT_ADDR,
    token: settings.VAULT_TOKEN?.reveal(),
    tokenFile: settings.VAULT_TOKEN_FILE,
    namespace: settings.VAULT_NAMESPACE,
  });
}
