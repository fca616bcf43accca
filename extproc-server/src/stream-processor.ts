import type { IProcessingResponse, ProcessingRequest } from "../../lib/src/envoy/services.js";
import { WardenError } from "../../lib/src/errors.js";
import type { envoy } from "../../lib/src/gen/envoy.js";
import { newDecisionId } from "../../lib/src/ids.js";
import { errorDialectOf } from "../../lib/src/llm/error-shapes.js";
import type { Logger } from "../../lib/src/logger.js";
import { readAuthzHandOff, type AuthzHandOff, type HandOffReading } from "../../lib/src/handoff/contract.js";
import { HeaderView, headerValue, type HeaderEdits } from "./header-edits.js";
import { isPhase, PhaseOrder } from "./phase-order.js";
import { UndecodableMessage, type IncomingMessage } from "./incoming.js";
import { McpRefusal, mcpErrorResponse } from "./mcp/errors.js";
import {
  BODY_BUFFERED,
  BODY_STREAMED,
  CONTINUE,
  immediateErrorResponse,
  headersResponse,
  requestBodyReplacement,
  responseBodyReplacement,
  type AgentError,
} from "./processing-responses.js";
import type { BodyReplacement, ExchangeHooks, MaybeAsync, Provider, ResponseStart } from "./providers.js";
import { requestHeaderEdits } from "./request-headers.js";
import { responseHeaderDecision } from "./response-headers.js";

type ProcessingMode = envoy.extensions.filters.http.ext_proc.v3.IProcessingMode;
type HttpHeaders = envoy.service.ext_proc.v3.IHttpHeaders;
type HttpBody = envoy.service.ext_proc.v3.IHttpBody;

export interface ProcessorDeps {
  readonly providers: readonly Provider[];
  readonly logger: Logger;
  readonly newDecisionId?: () => string;
}

/** A message out of protocol order (phase-order.ts): the stream ends with an error, nothing is answered. */
export class ProtocolViolation {
  constructor(readonly detail: string) {}
}

/**
 * What to send back for one message: null when nothing must be sent (the exchange was already
 * refused), a ProtocolViolation when the stream must end with an error.
 */
export type Reply = IProcessingResponse | ProtocolViolation | null;

const NO_HOOKS: readonly ExchangeHooks[] = Object.freeze([]);
const EMPTY_BODY = new Uint8Array(0);
const STREAM_RESPONSE_BODY: ProcessingMode = Object.freeze({ responseBodyMode: BODY_STREAMED });
const BUFFER_REQUEST_BODY: ProcessingMode = Object.freeze({ requestBodyMode: BODY_BUFFERED });

const NOT_AUTHORIZED: AgentError = {
  status: 403,
  code: "forbidden",
  message: "request was not authorized by Agent Warden",
};
const INTERNAL: AgentError = { status: 500, code: "internal", message: "the request could not be processed" };

/**
 * One ext_proc stream is one HTTP exchange. This object turns each ProcessingRequest of that stream
 * into its ProcessingResponse: synchronously when no provider needs to wait, so the common path is a
 * plain function call. It never throws: every failure becomes the agent's JSON error.
 */
export class StreamProcessor {
  private handOff: AuthzHandOff | null = null;
  private hooks: readonly ExchangeHooks[] = NO_HOOKS;
  private requestBodyHooks: readonly ExchangeHooks[] = NO_HOOKS;
  private responseBodyHooks: readonly ExchangeHooks[] = NO_HOOKS;
  private refused = false;
  private ended = false;
  private readonly order = new PhaseOrder();

  constructor(private readonly deps: ProcessorDeps) {}

  process(message: IncomingMessage): Reply | Promise<Reply> {
    if (this.refused) return null;
    // `request` is a protobufjs oneof getter that searches the fields: read it once.
    const phase = message instanceof UndecodableMessage ? undefined : message.request;
    const violation = this.outOfOrder(phase);
    if (violation) return violation;
    try {
      const reply = this.dispatch(message, phase);
      return isPromise(reply) ? reply.catch((error: unknown) => this.fail(error)) : reply;
    } catch (error) {
      return this.fail(error);
    }
  }

  /** The stream is gone (finished, cancelled or broken): providers flush once. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const hook of this.hooks) {
      try {
        hook.onEnd?.();
      } catch (error) {
        this.deps.logger.error(
          { err: error, decision_id: this.handOff?.decisionId },
          "provider onEnd failed",
        );
      }
    }
  }

  private outOfOrder(phase: string | undefined): ProtocolViolation | null {
    if (!isPhase(phase)) return null;
    const detail = this.order.admit(phase);
    if (detail === null) return null;
    this.refused = true;
    this.deps.logger.warn(
      { decision_id: this.handOff?.decisionId, violation: detail },
      "ext_proc message out of protocol order; ending the stream",
    );
    this.end();
    return new ProtocolViolation(detail);
  }

  /** The exchange's ext_authz decision once request headers were accepted. */
  get decision(): AuthzHandOff | null {
    return this.handOff;
  }

  private dispatch(
    message: IncomingMessage,
    phase: string | undefined,
  ): IProcessingResponse | Promise<IProcessingResponse> {
    if (message instanceof UndecodableMessage) {
      this.deps.logger.warn({ reason: message.reason }, "undecodable ext_proc message");
      return this.refuse(INTERNAL, this.newId());
    }
    switch (phase) {
      case "requestHeaders":
        return this.onRequestHeaders(message, message.requestHeaders!);
      case "requestBody":
        return this.requireHandOff(message) ?? this.onRequestBody(message.requestBody!);
      case "requestTrailers":
        return this.requireHandOff(message) ?? CONTINUE.requestTrailers;
      case "responseHeaders":
        return this.onResponseHeaders(message.responseHeaders!);
      case "responseBody":
        return this.onResponseBody(message.responseBody!);
      case "responseTrailers":
        return CONTINUE.responseTrailers;
      default:
        this.deps.logger.warn("ext_proc message without a known phase");
        return this.refuse(INTERNAL, this.newId());
    }
  }

  private onRequestHeaders(
    message: ProcessingRequest,
    http: HttpHeaders,
  ): IProcessingResponse | Promise<IProcessingResponse> {
    const reading = readAuthzHandOff(message.metadataContext);
    if (!reading.ok) return this.refuseHandOff(reading);
    const handOff = reading.handOff;
    this.handOff = handOff;
    const headers = http.headers?.headers ?? [];
    const edits = requestHeaderEdits(headers, handOff);
    if (this.deps.providers.length === 0) return headersResponse("requestHeaders", edits.toMutation());

    const view = new HeaderView(headers);
    this.attachProviders(handOff, view);
    if (this.hooks.length === 0) return headersResponse("requestHeaders", edits.toMutation());
    const bodyFollows = !http.endOfStream;
    return after(
      eachInOrder(this.hooks, (hook) => hook.onRequestHeaders?.(view, edits, !bodyFollows)),
      () =>
        headersResponse(
          "requestHeaders",
          edits.toMutation(),
          bodyFollows && this.hooks.some((hook) => hook.wantsRequestBody?.() === true)
            ? BUFFER_REQUEST_BODY
            : undefined,
        ),
    );
  }

  private attachProviders(handOff: AuthzHandOff, requestHeaders: HeaderView): void {
    const hooks: ExchangeHooks[] = [];
    for (const provider of this.deps.providers) {
      const attached = provider.attach({ handOff, requestHeaders });
      if (attached) hooks.push(attached);
    }
    this.hooks = hooks;
    this.requestBodyHooks = hooks.filter((hook) => hook.onRequestBody);
    this.responseBodyHooks = hooks.filter((hook) => hook.onResponseBody);
  }

  private onRequestBody(http: HttpBody): IProcessingResponse | Promise<IProcessingResponse> {
    // The request body is only ever asked for BUFFERED (see onRequestHeaders).
    return this.passBody("requestBody", this.requestBodyHooks, http, requestBodyReplacement);
  }

  private onResponseHeaders(http: HttpHeaders): IProcessingResponse | Promise<IProcessingResponse> {
    const headers = http.headers?.headers ?? [];
    const decision = responseHeaderDecision(headers);
    const bodyFollows = !http.endOfStream;
    // An event stream is always STREAMED and its events may be rewritten (scrubbed, filtered): a
    // content-length sent with it (some servers do) would no longer hold, and Envoy would answer 503.
    if (bodyFollows && decision.eventStream && headerValue(headers, "content-length") !== undefined)
      decision.edits.remove("content-length");
    if (this.hooks.length === 0) {
      return headersResponse(
        "responseHeaders",
        decision.edits.toMutation(),
        bodyFollows && decision.eventStream ? STREAM_RESPONSE_BODY : undefined,
      );
    }
    const response: ResponseStart = {
      status: decision.status,
      headers: new HeaderView(headers),
      eventStream: decision.eventStream,
    };
    return after(
      eachInOrder(this.hooks, (hook) => hook.onResponseHeaders?.(response, decision.edits)),
      () => {
        const mode = bodyFollows ? this.responseBodyMode(response, decision.edits) : undefined;
        return headersResponse("responseHeaders", decision.edits.toMutation(), mode);
      },
    );
  }

  private responseBodyMode(response: ResponseStart, edits: HeaderEdits): ProcessingMode | undefined {
    // A stream is never buffered, whatever a provider wants: chunks must reach the agent at once.
    if (response.eventStream) return STREAM_RESPONSE_BODY;
    if (!this.hooks.some((hook) => hook.wantsResponseBody?.(response) === true)) return undefined;
    // Never BUFFERED: a body above Envoy's buffer limit would stall until the idle timeout (and
    // Envoy 1.40 can crash then; docs/response-path.md). STREAMED keeps memory bounded on both
    // sides; a hook may change the length, so the agent gets the body chunked, without a length.
    edits.remove("content-length");
    return STREAM_RESPONSE_BODY;
  }

  private onResponseBody(http: HttpBody): IProcessingResponse | Promise<IProcessingResponse> {
    return this.passBody("responseBody", this.responseBodyHooks, http, responseBodyReplacement);
  }

  /** A body message through the hooks that take bodies, each seeing the previous one's bytes. */
  private passBody(
    phase: "requestBody" | "responseBody",
    hooks: readonly ExchangeHooks[],
    http: HttpBody,
    replaced: (body: Uint8Array) => IProcessingResponse,
  ): IProcessingResponse | Promise<IProcessingResponse> {
    if (hooks.length === 0) return CONTINUE[phase];
    const original = http.body ?? EMPTY_BODY;
    const endOfStream = http.endOfStream === true;
    const method = phase === "requestBody" ? "onRequestBody" : "onResponseBody";
    return after(
      pipeBody(hooks, original, (hook, chunk) => hook[method]!(chunk, endOfStream)),
      (body) => (body === original ? CONTINUE[phase] : replaced(body)),
    );
  }

  /** Request-side phases need the ext_authz decision; one that arrives without it is refused. */
  private requireHandOff(message: ProcessingRequest): IProcessingResponse | null {
    if (this.handOff) return null;
    const reading = readAuthzHandOff(message.metadataContext);
    if (!reading.ok) return this.refuseHandOff(reading);
    this.handOff = reading.handOff;
    return null;
  }

  private refuseHandOff(reading: Extract<HandOffReading, { ok: false }>): IProcessingResponse {
    const decisionId = reading.decisionId ?? this.newId();
    if (reading.problem === "absent") {
      // ext_authz did not run for this route: fail closed.
      this.deps.logger.warn(
        { decision_id: decisionId, reason: reading.detail },
        "refused: no ext_authz decision",
      );
      return this.refuse(NOT_AUTHORIZED, decisionId);
    }
    this.deps.logger.error(
      { decision_id: decisionId, reason: reading.detail },
      "refused: malformed ext_authz decision",
    );
    return this.refuse(INTERNAL, decisionId);
  }

  private fail(error: unknown): IProcessingResponse {
    const decisionId = this.handOff?.decisionId ?? this.newId();
    if (error instanceof WardenError) {
      this.deps.logger.warn(
        { decision_id: decisionId, code: error.code, reason: error.message },
        "refused by provider",
      );
      const agentError = { status: error.status, code: error.code, message: error.message };
      if (error instanceof McpRefusal) return this.refuse(agentError, decisionId, error);
      return this.refuse(agentError, decisionId);
    }
    this.deps.logger.error({ err: error, decision_id: decisionId }, "ext_proc processing failed");
    return this.refuse(INTERNAL, decisionId);
  }

  private refuse(error: AgentError, decisionId: string, mcp?: McpRefusal): IProcessingResponse {
    this.refused = true;
    this.end();
    const route = this.handOff;
    // On MCP routes the agent's client reads JSON-RPC: the error echoes the request's id when known.
    if (route?.kind === "mcp") return mcpErrorResponse(error, decisionId, mcp?.rpcId ?? null, mcp?.details);
    return immediateErrorResponse(error, decisionId, errorDialectOf(route?.service, route?.kind));
  }

  private newId(): string {
    return (this.deps.newDecisionId ?? newDecisionId)();
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function after<T, R>(value: T | Promise<T>, next: (value: T) => R): R | Promise<R> {
  return isPromise(value) ? value.then(next) : next(value);
}

/** Runs hooks one after another, staying synchronous until one returns a promise (no microtask otherwise). */
function eachInOrder<H>(hooks: readonly H[], run: (hook: H) => MaybeAsync<void>, from = 0): MaybeAsync<void> {
  for (let i = from; i < hooks.length; i++) {
    const result = run(hooks[i]!);
    if (isPromise(result)) return result.then(() => eachInOrder(hooks, run, i + 1));
  }
}

/** Passes a body chunk through hooks in order; each sees the previous one's replacement. */
function pipeBody<H>(
  hooks: readonly H[],
  chunk: Uint8Array,
  run: (hook: H, chunk: Uint8Array) => MaybeAsync<BodyReplacement>,
  from = 0,
): MaybeAsync<Uint8Array> {
  let current = chunk;
  for (let i = from; i < hooks.length; i++) {
    const result = run(hooks[i]!, current);
    if (isPromise(result)) {
      const before = current;
      return result.then((replacement) => pipeBody(hooks, replacement ?? before, run, i + 1));
    }
    if (result) current = result;
  }
  return current;
}
