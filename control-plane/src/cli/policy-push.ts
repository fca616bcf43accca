import { randomBytes } from "node:crypto";
import { open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

/**
 * Uploads a bundle to where authz-server fetches it from (WARDEN_POLICY_BUNDLE):
 * - a file path: written next to the target and renamed over it, so the file watcher sees either
 *   the old bundle or the new one, never a half-written file;
 * - an http(s) URL: PUT, as to object storage or a bundle server, with a bearer token if given.
 */
export type PushTarget = { kind: "file"; path: string } | { kind: "http"; url: URL };

export interface PushResult {
  target: string;
  /** The server's ETag for HTTP targets, when it sent one. */
  etag: string | null;
}

export class PushError extends Error {
  override name = "PushError";
}

export function parsePushTarget(location: string): PushTarget {
  if (/^https?:\/\//i.test(location)) {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw new PushError(`"${location}" is not a valid URL`);
    }
    return { kind: "http", url };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !location.startsWith("file://")) {
    throw new PushError(`unsupported bundle location "${location}" (use a file path or an http(s) URL)`);
  }
  return { kind: "file", path: resolve(location.replace(/^file:\/\//, "")) };
}

/** Where a URL points, without credentials or query (which may carry a presigned signature). */
export function describeTarget(target: PushTarget): string {
  return target.kind === "file" ? target.path : `${target.url.origin}${target.url.pathname}`;
}

export async function pushBundle(
  bytes: Buffer,
  target: PushTarget,
  options: { token?: string; timeoutMs?: number } = {},
): Promise<PushResult> {
  if (target.kind === "file") {
    await writeFileAtomically(target.path, bytes);
    return { target: target.path, etag: null };
  }
  return putOverHttp(bytes, target.url, options.token, options.timeoutMs ?? 30_000);
}

async function writeFileAtomically(path: string, bytes: Buffer): Promise<void> {
  const dir = dirname(path);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new PushError(`the directory ${dir} does not exist`);
  // Same directory, so the rename stays on one file system and is atomic.
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const file = await open(temp, "wx", 0o644);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code;
    throw new PushError(`cannot write ${path}${code ? ` (${code})` : ""}`);
  }
}

async function putOverHttp(
  bytes: Buffer,
  url: URL,
  token: string | undefined,
  timeoutMs: number,
): Promise<PushResult> {
  const where = `${url.origin}${url.pathname}`;
  const headers: Record<string, string> = { "content-type": "application/gzip" };
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "PUT",
      headers,
      body: bytes,
      redirect: "error",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      error instanceof Error && error.name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error)));
    throw new PushError(`cannot reach ${where}: ${reason}`);
  }
  await response.arrayBuffer().catch(() => undefined);
  if (response.status === 401 || response.status === 403) {
    throw new PushError(
      `${where} refused the upload (${response.status}): ${token ? "the token was not accepted" : "it needs a token (--token-file)"}`,
    );
  }
  if (!response.ok) throw new PushError(`${where} answered ${response.status} to the upload`);
  return { target: where, etag: response.headers.get("etag") };
}
