import { verificationKeysFromJwks, type VerificationKey } from "../../../lib/src/tokens/jws.js";

/**
 * The control plane's token keys (`/.well-known/jwks.json`), held in memory so a Check verifies a
 * signature without I/O. Refreshed periodically and, at most once a second, when a token names a
 * `kid` we do not have (a rotated key). A key that leaves the published set (its retention ended)
 * is dropped here too, so tokens it signed are refused from then on.
 */
export interface KeyStoreOptions {
  jwksUrl: string;
  refreshMs: number;
  /** Least time between two refreshes asked for by unknown `kid`s. */
  unknownKidCooldownMs?: number;
  fetch?: typeof fetch;
  onChange?: () => void;
  onError?: (error: unknown) => void;
}

export class JwksKeyStore {
  private keys = new Map<string, VerificationKey>();
  private fingerprint = "";
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private lastRefreshAt = 0;
  private loadedOnce = false;
  lastError: string | null = null;

  constructor(private readonly options: KeyStoreOptions) {}

  get loaded(): boolean {
    return this.loadedOnce;
  }

  get size(): number {
    return this.keys.size;
  }

  /** Loads once (errors are kept in lastError and retried by the timer), then refreshes periodically. */
  async start(): Promise<void> {
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs);
    this.timer.unref();
    await this.refresh();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The key for `kid`; an unknown one asks for a refresh and is refused for now. */
  keyFor(kid: string): VerificationKey | undefined {
    const key = this.keys.get(kid);
    if (key) return key;
    if (Date.now() - this.lastRefreshAt >= (this.options.unknownKidCooldownMs ?? 1_000)) void this.refresh();
    return undefined;
  }

  /** The refresh in flight (e.g. one an unknown `kid` just asked for), if any. */
  pendingRefresh(): Promise<void> | undefined {
    return this.inFlight;
  }

  refresh(): Promise<void> {
    this.inFlight ??= this.fetchKeys().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetchKeys(): Promise<void> {
    this.lastRefreshAt = Date.now();
    try {
      const response = await (this.options.fetch ?? fetch)(this.options.jwksUrl, {
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) throw new Error(`JWKS answered ${response.status}`);
      const keys = verificationKeysFromJwks((await response.json()) as { keys?: unknown });
      const fingerprint = [...keys.keys()].sort().join(",");
      this.lastError = null;
      this.loadedOnce = true;
      if (fingerprint === this.fingerprint) return;
      this.keys = keys;
      this.fingerprint = fingerprint;
      this.options.onChange?.();
    } catch (error) {
      // Keep the keys we have: an unreachable control plane must not refuse every delegation.
      this.lastError = error instanceof Error ? error.message : String(error);
      this.options.onError?.(error);
    }
  }
}
