import { readFileSync } from "node:fs";
import { localSession } from "../../../lib/src/runtime/local-session.js";
import { CliError } from "./cli-error.js";

/**
 * The CLI's HTTP client for the control-plane API. The bearer token comes from WARDEN_TOKEN or the
 * file named by WARDEN_TOKEN_FILE, never from the command line (where other users could see it).
 */
export interface ApiReply<T> {
  status: number;
  etag: string | null;
  body: T;
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: { field: string; message: string }[] };
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv): ApiClient {
    // Without either, a stack started by `warden up` in $WARDEN_HOME and the token of `warden login`.
    const local = env.WARDEN_API_URL && (env.WARDEN_TOKEN_FILE || env.WARDEN_TOKEN) ? {} : localSession(env);
    const token = env.WARDEN_TOKEN_FILE
      ? readFileSync(env.WARDEN_TOKEN_FILE, "utf8").trim()
      : env.WARDEN_TOKEN || local.token;
    return new ApiClient(
      (env.WARDEN_API_URL || local.apiUrl || "http://127.0.0.1:8081").replace(/\/$/, ""),
      token || undefined,
    );
  }

  async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; ifMatch?: string | null } = {},
  ): Promise<ApiReply<T>> {
    const response = await this.send(method, path, options);
    const text = await response.text();
    const body = text ? (JSON.parse(text) as T) : (undefined as T);
    if (!response.ok) throw errorFrom(response.status, body as ErrorBody);
    return { status: response.status, etag: response.headers.get("etag"), body };
  }

  /** GET of a paged list: the first page, or with `all` every page (following `next_cursor`). */
  async list<T>(
    path: string,
    params: Record<string, string | number | undefined>,
    all: boolean,
  ): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.request<{ items: T[]; next_cursor?: string | null }>(
        "GET",
        `${path}${queryString({ ...params, cursor })}`,
      );
      items.push(...page.body.items);
      cursor = all ? (page.body.next_cursor ?? undefined) : undefined;
    } while (cursor);
    return items;
  }

  /** For NDJSON: the raw response body, streamed. */
  async stream(path: string): Promise<ReadableStream<Uint8Array>> {
    const response = await this.send("GET", path, {});
    if (!response.ok)
      throw errorFrom(response.status, (await response.json().catch(() => ({}))) as ErrorBody);
    if (!response.body) throw new CliError("empty response");
    return response.body;
  }

  private async send(
    method: string,
    path: string,
    options: { body?: unknown; ifMatch?: string | null },
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.ifMatch) headers["if-match"] = options.ifMatch;
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new CliError(
        `cannot reach the control plane at ${this.baseUrl}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

function errorFrom(status: number, body: ErrorBody | undefined): CliError {
  const error = body?.error;
  const details = error?.details?.map((d) => `\n  ${d.field}: ${d.message}`).join("") ?? "";
  const hint = status === 401 ? " (set WARDEN_TOKEN or WARDEN_TOKEN_FILE)" : "";
  return new CliError(
    `${status} ${error?.code ?? "error"}: ${error?.message ?? "request failed"}${hint}${details}`,
  );
}

export function queryString(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}
