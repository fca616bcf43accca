import { CREDENTIAL_RESPONSE_HEADERS } from "../../lib/src/credentials.js";
import type { envoy } from "../../lib/src/gen/envoy.js";
import { HeaderEdits, headerValue } from "./header-edits.js";
import { scrubUrlCredentials, URL_VALUED_RESPONSE_HEADERS } from "./url-credentials.js";

export interface ResponseHeaderDecision {
  readonly edits: HeaderEdits;
  /** `text/event-stream`: the body must stream through chunk by chunk. */
  readonly eventStream: boolean;
  /** The upstream `:status`, or 0 when Envoy did not send one. */
  readonly status: number;
}

/**
 * Response headers on their way back to the agent: session cookies and anything that carries a
 * credential never reach it, nor a credential in the query of a URL-valued header (Location, ...). One pass over the headers also tells whether the body is a stream.
 */
export function responseHeaderDecision(
  headers: readonly envoy.config.core.v3.IHeaderValue[],
): ResponseHeaderDecision {
  const edits = new HeaderEdits();
  for (const header of headers) {
    const name = header.key?.toLowerCase();
    if (!name) continue;
    if (CREDENTIAL_RESPONSE_HEADERS.has(name)) {
      edits.remove(name);
    } else if (URL_VALUED_RESPONSE_HEADERS.has(name)) {
      const scrubbed = scrubUrlCredentials(headerValue(headers, name) ?? "");
      if (scrubbed !== undefined) edits.set(name, scrubbed);
    }
  }
  return {
    edits,
    eventStream: isEventStream(headerValue(headers, "content-type")),
    status: Number(headerValue(headers, ":status") ?? 0) || 0,
  };
}

const EVENT_STREAM = "text/event-stream";

export function isEventStream(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.trimStart();
  if (
    type.length < EVENT_STREAM.length ||
    type.slice(0, EVENT_STREAM.length).toLowerCase() !== EVENT_STREAM
  ) {
    return false;
  }
  const next = type.charAt(EVENT_STREAM.length);
  return next === "" || next === ";" || next === " " || next === "\t";
}
