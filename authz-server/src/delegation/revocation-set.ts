/**
 * Ids of revoked delegations and access tokens that have not expired yet. Revocation is final, so
 * the set only grows (a late or repeated notice can never un-revoke anything); ids leave it once
 * their token has expired anyway, which keeps it as small as the live revocations.
 */
export class RevocationSet {
  private readonly expiresAt = new Map<string, number>();

  get size(): number {
    return this.expiresAt.size;
  }

  has(id: string): boolean {
    return this.expiresAt.has(id);
  }

  /** `expiresAtSeconds`: when the token would have expired (seconds since the epoch). */
  add(id: string, expiresAtSeconds: number): void {
    const known = this.expiresAt.get(id);
    if (known === undefined || known < expiresAtSeconds) this.expiresAt.set(id, expiresAtSeconds);
  }

  /** Forgets ids whose tokens have expired; returns how many. */
  prune(nowSeconds: number): number {
    let removed = 0;
    for (const [id, expires] of this.expiresAt) {
      if (expires <= nowSeconds) {
        this.expiresAt.delete(id);
        removed += 1;
      }
    }
    return removed;
  }
}
