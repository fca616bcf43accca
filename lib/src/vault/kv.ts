import { z } from "zod";
import { VaultError, type VaultClient } from "./client.js";

/**
 * KV version 2 reads. A secret's `version` comes with every read, so a cache can tell a rotated
 * secret from the one it holds without a second call.
 */
export interface KvSecret {
  readonly data: Readonly<Record<string, unknown>>;
  readonly version: number;
}

const kvReadResponse = z.object({
  data: z.object({
    // null when the latest version is deleted (soft delete) or destroyed.
    data: z.record(z.unknown()).nullable(),
    metadata: z.object({ version: z.number().int().positive() }).passthrough(),
  }),
});

/** Path segments go into a URL: only these characters, so no segment can climb out of its folder. */
const SAFE_SEGMENT = /^[A-Za-z0-9._-]+$/;

export function isSafeKvSegment(segment: string): boolean {
  return SAFE_SEGMENT.test(segment) && segment !== "." && segment !== "..";
}

/**
 * Reads the latest version of `<mount>/data/<segments…>`. Null when there is no such secret or its
 * latest version is deleted; a VaultError for anything else (`unavailable` tells Vault being down
 * from Vault refusing).
 */
export async function readKvSecret(
  client: VaultClient,
  mount: string,
  segments: readonly string[],
): Promise<KvSecret | null> {
  for (const segment of [mount, ...segments]) {
    if (!isSafeKvSegment(segment)) throw new Error(`unsafe KV path segment ${JSON.stringify(segment)}`);
  }
  let raw: unknown;
  try {
    raw = await client.request("GET", `${mount}/data/${segments.join("/")}`);
  } catch (error) {
    if (error instanceof VaultError && error.status === 404) return null;
    throw error;
  }
  const parsed = kvReadResponse.safeParse(raw);
  if (!parsed.success) throw new VaultError(`unexpected KV v2 response from ${mount}`, 502);
  const { data, metadata } = parsed.data.data;
  return data === null ? null : { data, version: metadata.version };
}
