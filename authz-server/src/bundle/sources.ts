import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { DEFAULT_MAX_BUNDLE_BYTES } from "../../../lib/src/policy-bundle/tar.js";

/**
 * Where policy bundles come from. A source only fetches bytes (and says when nothing changed);
 * verification and activation happen in the loader, off the request path.
 */
export type Fetched = { kind: "unchanged" } | { kind: "bundle"; bytes: Buffer; version: string };

export interface BundleSource {
  readonly description: string;
  fetch(): Promise<Fetched>;
}

/** A bundle file on disk, re-read when its size or mtime changes (works with atomic renames). */
export class FileBundleSource implements BundleSource {
  private lastVersion = "";

  constructor(private readonly path: string) {}

  get description(): string {
    return `file ${this.path}`;
  }

  async fetch(): Promise<Fetched> {
    const info = await stat(this.path);
    const version = `${info.size}:${info.mtimeMs}:${info.ino}`;
    if (version === this.lastVersion) return { kind: "unchanged" };
    if (info.size > DEFAULT_MAX_BUNDLE_BYTES) tooLarge();
    const bytes = await readFile(this.path);
    this.lastVersion = version;
    return { kind: "bundle", bytes, version };
  }
}

/**
 * OPA's bundle service protocol: GET the bundle, send the last ETag as If-None-Match, 304 means
 * unchanged. Works with an OPA bundle server, nginx or object storage.
 */
export class HttpBundleSource implements BundleSource {
  private etag = "";
  private lastDigest = "";

  constructor(
    private readonly url: string,
    private readonly token?: string,
    private readonly timeoutMs = 10_000,
  ) {}

  get description(): string {
    return `http ${new URL(this.url).origin}${new URL(this.url).pathname}`;
  }

  async fetch(): Promise<Fetched> {
    const headers: Record<string, string> = { accept: "application/gzip, application/octet-stream" };
    if (this.etag) headers["if-none-match"] = this.etag;
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const response = await fetch(this.url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
    if (response.status === 304) return { kind: "unchanged" };
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`bundle server answered ${response.status}`);
    }
    const bytes = await readAtMost(response, DEFAULT_MAX_BUNDLE_BYTES);
    this.etag = response.headers.get("etag") ?? "";
    // A server without ETags (or a re-upload of the same bytes) would otherwise have every poll
    // verify, instantiate and swap in the same bundle again.
    const digest = createHash("sha256").update(bytes).digest("hex");
    if (digest === this.lastDigest) return { kind: "unchanged" };
    this.lastDigest = digest;
    return { kind: "bundle", bytes, version: this.etag || digest };
  }
}

function tooLarge(): never {
  throw new Error(`the bundle is larger than ${DEFAULT_MAX_BUNDLE_BYTES} bytes`);
}

/** The body, refusing to buffer more than `maxBytes` (a wrong URL could serve anything). */
async function readAtMost(response: Response, maxBytes: number): Promise<Buffer> {
  if (Number(response.headers.get("content-length") ?? 0) > maxBytes) {
    await response.body?.cancel();
    tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > maxBytes) tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function bundleSourceFor(location: string, token?: string): BundleSource {
  if (/^https?:\/\//.test(location)) return new HttpBundleSource(location, token);
  return new FileBundleSource(location.replace(/^file:\/\//, ""));
}
