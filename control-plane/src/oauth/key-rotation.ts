/**
 * Which version of the token key signs, and which versions the JWKS publishes. Pure; the clock and
 * Vault's key metadata come in as arguments.
 *
 * A new version (after `transit/keys/<key>/rotate`, or Vault's `auto_rotate_period`) is published at
 * once but signs only after `activationDelayMs`, so every sidecar has fetched it before it meets a
 * token signed with it. A version that stopped signing stays published for `retentionMs` (the
 * longest lifetime of a token it signed), then leaves the JWKS: tokens it signed are refused.
 */
export interface KeyVersion {
  version: number;
  /** null when Vault did not say: treated as created long ago. */
  createdAt: Date | null;
}

export interface RotationPolicy {
  activationDelayMs: number;
  retentionMs: number;
}

function activeSince(version: KeyVersion, policy: RotationPolicy): number {
  return version.createdAt === null ? -Infinity : version.createdAt.getTime() + policy.activationDelayMs;
}

/** The newest version past its activation delay; the oldest one when none is (a brand-new key). */
export function signingVersion(versions: readonly KeyVersion[], now: Date, policy: RotationPolicy): number {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  if (sorted.length === 0) throw new Error("the token key has no versions");
  const active = sorted.filter((v) => activeSince(v, policy) <= now.getTime());
  return (active.at(-1) ?? sorted[0]!).version;
}

/** Versions in the JWKS: the signing one, newer ones (pre-published) and retired ones within retention. */
export function publishedVersions(
  versions: readonly KeyVersion[],
  now: Date,
  policy: RotationPolicy,
): Set<number> {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  const signing = signingVersion(sorted, now, policy);
  const published = new Set<number>();
  for (const [index, version] of sorted.entries()) {
    if (version.version >= signing) {
      published.add(version.version);
      continue;
    }
    // Retired when its successor started signing.
    const successor = sorted[index + 1]!;
    const retiredAt = activeSince(successor, policy);
    if (now.getTime() < retiredAt + policy.retentionMs) published.add(version.version);
  }
  return published;
}
