import { request as httpsRequest, Agent } from "node:https";
import { request as httpRequest } from "node:http";

/**
 * A `fetch` for the Vault client that presents a client certificate and trusts a given CA: Node's
 * global fetch cannot take either without undici's dispatcher, and Vault's cert auth needs both.
 * Only what lib/src/vault/client.ts uses is supported: a URL string, a method, string headers, a
 * string body, and an abort signal.
 */
export interface TlsFetchOptions {
  /** PEM CA bundle that signed Vault's server certificate. */
  ca?: string | Buffer | undefined;
  /** PEM client certificate (chain) and key, presented to Vault for cert auth. */
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
}

export interface TlsFetch {
  readonly fetch: typeof fetch;
  /** Closes the kept-alive connections (when a new certificate replaces this one). */
  close(): void;
}

export function tlsFetch(options: TlsFetchOptions): TlsFetch {
  const agent = new Agent({ ca: options.ca, cert: options.cert, key: options.key, keepAlive: true });
  const tlsFetchImpl = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (input instanceof Request) return Promise.reject(new TypeError("tlsFetch takes a URL, not a Request"));
    const url = new URL(String(input));
    const headers = plainHeaders(init.headers);
    const body = typeof init.body === "string" ? init.body : undefined;
    if (init.body != null && body === undefined)
      return Promise.reject(new TypeError("tlsFetch sends string bodies only"));
    if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const req = send(
        url,
        {
          method: init.method ?? "GET",
          headers,
          ...(url.protocol === "https:" ? { agent } : {}),
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (part: Buffer) => parts.push(part));
          res.on("error", reject);
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (typeof value === "string") responseHeaders.set(name, value);
              else if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
            }
            const noBody = status === 204 || status === 304;
            resolve(new Response(noBody ? null : Buffer.concat(parts), { status, headers: responseHeaders }));
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  };
  return { fetch: tlsFetchImpl as typeof fetch, close: () => agent.destroy() };
}

function plainHeaders(headers: RequestInit["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  new Headers(headers).forEach((value, name) => {
    out[name] = value;
  });
  return out;
}
