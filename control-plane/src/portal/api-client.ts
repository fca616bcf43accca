import type { FastifyInstance } from "fastify";
import type { FieldProblem } from "../http/validation.js";

/**
 * Pages call the control plane's own REST API in process (Fastify `inject`, no network), with the
 * signed-in user's access token: the same validation, role checks, tenancy (row-level security),
 * audit and error messages as any API client, and no second copy of the SQL or the rules.
 */
export class PortalApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The API's per-field problems of a 400, for forms to show next to their inputs. */
    readonly details: readonly FieldProblem[] = [],
  ) {
    super(message);
    this.name = "PortalApiError";
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface ApiCallOptions {
  query?: Query;
  body?: unknown;
  /** The browser's Cookie header to pass on (only where an API flow binds itself to the browser). */
  cookie?: string | undefined;
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
  /** The API's Set-Cookie headers, for the page to pass on to the browser. */
  setCookies: string[];
}

export interface PortalApi {
  /** Any call, with its status and cookies (account connections bind their flow to the browser). */
  call<T>(method: Method, path: string, options?: ApiCallOptions): Promise<ApiAnswer<T>>;
  get<T>(path: string, query?: Query): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  put<T>(path: string, body?: unknown): Promise<T>;
  patch<T>(path: string, body?: unknown): Promise<T>;
  delete<T>(path: string, body?: unknown): Promise<T>;
  /** A GET whose answer is not JSON (the audit export's NDJSON): its bytes and content type. */
  download(path: string, query?: Query): Promise<{ contentType: string; body: Buffer }>;
}

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

function withQuery(path: string, query: Query | undefined): string {
  const entries = Object.entries(query ?? {}).filter(([, v]) => v !== undefined && v !== "");
  return entries.length
    ? `${path}?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)]))}`
    : path;
}

export function portalApi(app: FastifyInstance, accessToken: string): PortalApi {
  async function call<T>(method: Method, path: string, options: ApiCallOptions = {}): Promise<ApiAnswer<T>> {
    const { body, cookie } = options;
    const response = await app.inject({
      method,
      url: withQuery(path, options.query),
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(cookie ? { cookie } : {}),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    const parsed: unknown = response.body ? JSON.parse(response.body) : null;
    if (response.statusCode >= 400) {
      const error = (
        parsed as { error?: { code?: string; message?: string; details?: FieldProblem[] } } | null
      )?.error;
      throw new PortalApiError(
        response.statusCode,
        error?.code ?? "error",
        error?.message ?? `the request failed (${response.statusCode})`,
        error?.details,
      );
    }
    const setCookie = response.headers["set-cookie"];
    return {
      status: response.statusCode,
      body: parsed as T,
      setCookies: setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [String(setCookie)],
    };
  }
  const bodyOf = <T>(answer: Promise<ApiAnswer<T>>) => answer.then((a) => a.body);
  return {
    download: async (path, query) => {
      const response = await app.inject({
        method: "GET",
        url: withQuery(path, query),
        headers: { authorization: `Bearer ${accessToken}` },
      });
      if (response.statusCode >= 400) {
        const error = (JSON.parse(response.body) as { error?: { code?: string; message?: string } }).error;
        throw new PortalApiError(
          response.statusCode,
          error?.code ?? "error",
          error?.message ?? "the export failed",
        );
      }
      return {
        contentType: String(response.headers["content-type"] ?? "application/octet-stream"),
        body: response.rawPayload,
      };
    },
    call,
    get: (path, query) => bodyOf(call("GET", path, { query })),
    post: (path, body) => bodyOf(call("POST", path, { body: body ?? {} })),
    put: (path, body) => bodyOf(call("PUT", path, { body })),
    patch: (path, body) => bodyOf(call("PATCH", path, { body })),
    delete: (path, body) => bodyOf(call("DELETE", path, { body })),
  };
}
