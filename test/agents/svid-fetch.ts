import { request, type Agent } from "node:https";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";

/**
 * A `fetch` over mTLS with the agent's SVID (held by `tls`), for the official SDKs. `observe` sees each
 * response as it arrives, before the SDK reads it.
 */
export function svidFetch(
  tls: Agent,
  observe: (res: IncomingMessage) => void = () => undefined,
): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body =
      init.body == null
        ? undefined
        : typeof init.body === "string"
          ? init.body
          : Buffer.from(await new Response(init.body).arrayBuffer());
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    return new Promise<Response>((resolve, reject) => {
      const req = request(url, { method: init.method ?? "GET", headers, agent: tls }, (res) => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (typeof value === "string") responseHeaders.set(name, value);
          else if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
        }
        observe(res);
        resolve(
          new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, {
            status: res.statusCode ?? 0,
            headers: responseHeaders,
          }),
        );
      });
      init.signal?.addEventListener("abort", () => req.destroy(new Error("aborted")));
      req.on("error", reject);
      req.end(body);
    });
  }) as typeof fetch;
}
