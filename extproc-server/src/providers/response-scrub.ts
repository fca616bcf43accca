import { WardenError } from "../../../lib/src/errors.js";
import type { SecretScrubber } from "../credentials/scrub.js";
import type { HeaderEdits } from "../header-edits.js";
import type { ExchangeHooks, ResponseStart } from "../providers.js";

/**
 * The steps every exchange that injects a secret (an LLM key, a user's SaaS token) takes on the
 * answer: each header the agent will still see is scrubbed of that secret, and the body is read as
 * text only when its content type says it is text.
 */

/** Scrubs every response header not already removed, as edited so far by the core and earlier hooks. */
export function scrubResponseHeaders(
  response: ResponseStart,
  edits: HeaderEdits,
  scrubber: SecretScrubber,
): void {
  for (const header of response.headers.list) {
    const name = header.key?.toLowerCase();
    if (!name || name.startsWith(":") || edits.removes(name)) continue;
    const scrubbed = scrubber.scrubText(edits.valueOf(name) ?? response.headers.get(name) ?? "");
    if (scrubbed !== undefined) edits.set(name, scrubbed);
  }
}

const JSON_OR_TEXT = /^(application\/([\w.+-]*\+)?json|text\/)/i;
const JSON_TEXT_OR_NDJSON = /^(application\/([\w.+-]*\+)?json|application\/x-ndjson|text\/)/i;

/** JSON (`application/json`, `application/*+json`) or any `text/*`. */
export function isJsonOrText(contentType: string | undefined): boolean {
  return contentType !== undefined && JSON_OR_TEXT.test(contentType.trimStart());
}

/** As isJsonOrText, and newline-delimited JSON (`application/x-ndjson`). */
export function isJsonTextOrNdjson(contentType: string | undefined): boolean {
  return contentType !== undefined && JSON_TEXT_OR_NDJSON.test(contentType.trimStart());
}

/** Hooks for a route whose service has no module: nothing could inject its credential, so it is refused. */
export function refuseUnknownService(message: string): ExchangeHooks {
  return {
    onRequestHeaders() {
      throw new WardenError("internal", message);
    },
  };
}
