import type { AuthzHandOff } from "../../lib/src/handoff/contract.js";
import type { HeaderEdits, HeaderView } from "./header-edits.js";

/**
 * How behaviour beyond the core (credential injection, usage accounting, body scrubbing, one module
 * per LLM API shape or SaaS service) joins the ext_proc stream without editing it.
 *
 * A Provider is consulted once per HTTP exchange, after the ext_authz hand-off is verified, and
 * either declines (null) or returns hooks that live for that exchange only, so per-exchange state
 * (a parsed model name, a token count) sits in the hooks object. Hooks run in registration order,
 * after the core's own edits; any of them may be async (a Vault lookup), and any error they throw
 * becomes the agent's JSON error (a WardenError keeps its code and status; anything else is a 500).
 */
export interface Provider {
  readonly name: string;
  attach(exchange: ExchangeStart): ExchangeHooks | null;
}

export interface ExchangeStart {
  readonly handOff: AuthzHandOff;
  readonly requestHeaders: HeaderView;
}

export interface ResponseStart {
  readonly status: number;
  readonly headers: HeaderView;
  /** `text/event-stream`: the body arrives chunk by chunk (STREAMED) and must not be held back. */
  readonly eventStream: boolean;
}

/** A hook's answer to a body chunk: new bytes for that chunk, or nothing to leave it as it is. */
export type BodyReplacement = Uint8Array | undefined;

export type MaybeAsync<T> = T | Promise<T>;

export interface ExchangeHooks {
  /**
   * Edit upstream request headers (e.g. put the tenant's API key in `authorization`). `endOfStream`:
   * the request has no body (no body phase will follow, whatever `wantsRequestBody` says).
   */
  onRequestHeaders?(headers: HeaderView, edits: HeaderEdits, endOfStream: boolean): MaybeAsync<void>;
  /** Ask Envoy for the request body (BUFFERED) of this exchange, e.g. to read the model. */
  wantsRequestBody?(): boolean;
  onRequestBody?(body: Uint8Array, endOfStream: boolean): MaybeAsync<BodyReplacement>;
  onResponseHeaders?(response: ResponseStart, edits: HeaderEdits): MaybeAsync<void>;
  /**
   * Ask for the body of a plain (non-streaming) response, e.g. to read token usage or scrub it.
   * It comes STREAMED, chunk by chunk, never BUFFERED (Envoy stalls a BUFFERED body above its buffer
   * limit; docs/response-path.md), without its content-length; streaming responses always come
   * STREAMED; plain ones pay a body phase only when a hook asks.
   */
  wantsResponseBody?(response: ResponseStart): boolean;
  /** Called for every chunk at once; whatever it does must not hold the chunk back. */
  onResponseBody?(chunk: Uint8Array, endOfStream: boolean): MaybeAsync<BodyReplacement>;
  /** The exchange is over (completed, refused or cancelled): flush usage, release state. Never throws. */
  onEnd?(): void;
}
