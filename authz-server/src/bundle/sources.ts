import { readFile, stat } from "node:fs/promises";

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
    if (!response.ok) throw new Error(`bundle server answered ${response.status}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const etag = response.headers.get("etag") ?? "";
    this.etag = etag;
    return { kind: "bundle", bytes, version: etag || `${bytes.length}` };
  }
}

export function bundleSourceFor(location: string, token?: string): BundleSource {
  if (/^https?:\/\//.test(location)) return new HttpBundleSource(location, token);
  return new FileBundleSource(location.replace(/^file:\/\//, ""));
}
