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

const kvWriteResponse = z.object({ data: z.object({ version: z.number().int().positive() }).passthrough() });

/** Another writer changed the secret since the version the caller read (KV v2 check-and-set refused). */
export class KvCasConflictError extends Error {
  constructor(readonly path: string) {
    super(`KV check-and-set conflict on ${path}`);
    this.name = "KvCasConflictError";
  }
}

function kvPath(mount: string, kind: "data" | "metadata", segments: readonly string[]): string {
  for (const segment of [mount, ...segments]) {
    if (!isSafeKvSegment(segment)) throw new Error(`unsafe KV path segment ${JSON.stringify(segment)}`);
  }
  return `${mount}/${kind}/${segments.join("/")}`;
}

/**
 * Writes a new version of `<mount>/data/<segments…>`. With `cas`, Vault writes only if the current
 * version is `cas` (0: only if the secret does not exist yet) and a KvCasConflictError says someone
 * else wrote first. Returns the new version.
 */
export async function writeKvSecret(
  client: VaultClient,
  mount: string,
  segments: readonly string[],
  data: Readonly<Record<string, unknown>>,
  options: { cas?: number } = {},
): Promise<number> {
  const path = kvPath(mount, "data", segments);
  let raw: unknown;
  try {
    raw = await client.request("POST", path, {
      ...(options.cas === undefined ? {} : { options: { cas: options.cas } }),
      data,
    });
  } catch (error) {
    // KV v2 answers 400 "check-and-set parameter did not match the current version".
    if (
      options.cas !== undefined &&
      error instanceof VaultError &&
      error.status === 400 &&
      error.errors.some((e) => e.includes("check-and-set"))
    )
      throw new KvCasConflictError(path);
    throw error;
  }
  const parsed = kvWriteResponse.safeParse(raw);
  if (!parsed.success) throw new VaultError(`unexpected KV v2 write response from ${mount}`, 502);
  return parsed.data.data.version;
}

/** Deletes every version and the metadata of `<mount>/metadata/<segments…>` (nothing left to undelete). */
export async function destroyKvSecret(
  client: VaultClient,
  mount: string,
  segments: readonly string[],
): Promise<void> {
  await client.request("DELETE", kvPath(mount, "metadata", segments));
}
