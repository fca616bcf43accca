import { WardenError } from "../../../../lib/src/errors.js";
import type { AuthzHandOff } from "../../authz-handoff.js";
import type { SecretScrubber } from "../../credentials/scrub.js";
import type { LlmKeySource } from "../../credentials/key-source.js";
import type { HeaderEdits, HeaderView } from "../../header-edits.js";
import type { BodyReplacement, ExchangeHooks, MaybeAsync, ResponseStart } from "../../providers.js";
import { ScrubbedSseStream } from "../../sse/scrubbed-stream.js";
import { NO_TOKENS, type UsageOutcome, type UsageRecord, type UsageSink } from "../../usage/record.js";
import {
  isRecord,
  parseJson,
  type LlmApi,
  type LlmRoute,
  type StreamUsageReader,
  type UsageReading,
} from "./api.js";

export interface LlmExchangeDeps {
  readonly api: LlmApi;
  readonly keys: LlmKeySource;
  readonly usage: UsageSink;
  /** The tenant of a decision that names none (a single-tenant sidecar); null: such requests are refused. */
  readonly defaultTenant: string | null;
  /** Monotonic milliseconds (performance.now) for latencies. */
  readonly monotonicMs: () => number;
  readonly wallClock: () => Date;
}

const NO_TENANT = "the request's identity names no tenant, so no LLM key can be chosen";

/**
 * One LLM call through the sidecar: the tenant's key from Vault in the provider's header (after the
 * core removed whatever the agent sent), the request body read for the model (and rewritten where a
 * stream must be asked to report usage), the response scrubbed of keys and read for usage (a JSON
 * body whole, an SSE stream event by event as it passes), and one usage record when it ends.
 */
export class LlmExchange implements ExchangeHooks {
  private readonly route: LlmRoute;
  private readonly startedMs: number;
  private readonly startedAt: Date;
  private tenant: string | null = null;
  private key: string | null = null;
  private requestedModel: string | null;
  private stream: boolean;
  private status = 0;
  private firstByteMs: number | null = null;
  private responseScrubber: SecretScrubber | null = null;
  private sse: ScrubbedSseStream | null = null;
  private streamReader: StreamUsageReader | null = null;
  private jsonParts: Uint8Array[] | null = null;
  private jsonUsage: UsageReading | null = null;
  private bodyPhase = false;
  private bodyEnded = false;
  private recorded = false;

  constructor(
    private readonly handOff: AuthzHandOff,
    requestHeaders: HeaderView,
    private readonly deps: LlmExchangeDeps,
  ) {
    this.startedMs = deps.monotonicMs();
    this.startedAt = deps.wallClock();
    this.route = deps.api.route(requestHeaders.get(":method") ?? "", requestHeaders.get(":path") ?? "");
    this.requestedModel = this.route.pathModel;
    this.stream = this.route.pathStream;
  }

  onRequestHeaders(_headers: HeaderView, edits: HeaderEdits): MaybeAsync<void> {
    const tenant = this.handOff.tenant ?? this.deps.defaultTenant;
    if (!tenant) throw new WardenError("forbidden", NO_TENANT);
    this.tenant = tenant;
    const key = this.deps.keys.keyFor(tenant, this.deps.api.provider);
    if (typeof key === "string") return this.inject(edits, key);
    return key.then((value) => this.inject(edits, value));
  }

  private inject(edits: HeaderEdits, key: string): void {
    this.key = key;
    this.deps.api.injectKey(edits, key);
    // A compressed answer could be neither read for usage nor scrubbed of keys: ask for plain bytes.
    edits.set("accept-encoding", "identity");
  }

  wantsRequestBody(): boolean {
    return this.route.operation !== "other";
  }

  onRequestBody(body: Uint8Array, endOfStream: boolean): BodyReplacement {
    // Envoy sends a BUFFERED body whole, in one message; anything else is left as it is.
    if (!endOfStream) return undefined;
    const parsed = parseJson(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
    if (!isRecord(parsed)) return undefined;
    const reading = this.deps.api.readRequest(this.route, parsed);
    this.requestedModel = reading.model ?? this.requestedModel;
    this.stream = reading.stream || this.route.pathStream;
    return reading.rewritten ? Buffer.from(JSON.stringify(reading.rewritten), "utf8") : undefined;
  }

  onResponseHeaders(response: ResponseStart, edits: HeaderEdits): void {
    this.status = response.status;
    this.firstByteMs = this.deps.monotonicMs() - this.startedMs;
    if (response.status === 401 && this.tenant)
      this.deps.keys.invalidate(this.tenant, this.deps.api.provider);
    const scrubber = this.scrubber();
    for (const header of response.headers.list) {
      const name = header.key?.toLowerCase();
      if (!name || name.startsWith(":") || edits.removes(name)) continue;
      const scrubbed = scrubber.scrubText(response.headers.get(name) ?? "");
      if (scrubbed !== undefined) edits.set(name, scrubbed);
    }
    if (response.eventStream) {
      const reader = this.deps.api.streamUsage(this.route);
      this.streamReader = reader;
      this.sse = new ScrubbedSseStream(scrubber, (event) => reader.onEvent(event));
    }
  }

  wantsResponseBody(response: ResponseStart): boolean {
    if (!isTextual(response.headers.get("content-type"))) return false;
    // A stream that is not SSE (Google's streamGenerateContent without alt=sse) must not be buffered;
    // an error answer to a streaming request is small and is read like any other.
    if (this.stream && response.status < 400) return false;
    this.jsonParts = [];
    return true;
  }

  onResponseBody(chunk: Uint8Array, endOfStream: boolean): BodyReplacement {
    this.bodyPhase = true;
    if (endOfStream) this.bodyEnded = true;
    if (this.sse) return this.sse.chunk(chunk, endOfStream);
    if (!this.jsonParts) return undefined;
    // BUFFERED: the whole body arrives in one message; keep parts only in case Envoy splits it.
    if (!endOfStream) {
      this.jsonParts.push(Uint8Array.from(chunk));
    } else {
      const whole = this.jsonParts.length === 0 ? chunk : Buffer.concat([...this.jsonParts, chunk]);
      this.jsonParts = null;
      const text = Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength).toString("utf8");
      this.jsonUsage = this.deps.api.readJsonUsage(this.route, parseJson(text));
    }
    return this.scrubber().scrub(chunk);
  }

  onEnd(): void {
    if (this.recorded) return;
    this.recorded = true;
    const reading = this.streamReader?.reading() ?? this.jsonUsage;
    const record: UsageRecord = {
      decisionId: this.handOff.decisionId,
      startedAt: this.startedAt.toISOString(),
      agentSpiffeId: this.handOff.agentSpiffeId,
      agentId: this.handOff.agentId,
      tenant: this.tenant ?? this.handOff.tenant,
      userId: this.handOff.userId,
      delegationId: this.handOff.delegationId,
      provider: this.deps.api.provider,
      operation: this.route.operation,
      requestedModel: this.requestedModel,
      responseModel: reading?.model ?? null,
      stream: this.stream,
      status: this.status,
      outcome: this.outcome(),
      usage: reading?.usage ?? NO_TOKENS,
      usageSource: reading === null ? "none" : this.streamReader ? "stream" : "body",
      latencyMs: round(this.deps.monotonicMs() - this.startedMs),
      timeToFirstByteMs: this.firstByteMs === null ? null : round(this.firstByteMs),
    };
    this.deps.usage.record(record);
  }

  private outcome(): UsageOutcome {
    if (this.status === 0) return "not_forwarded";
    // A body we watched must have reached its end; one we did not watch (or none at all) counts as whole.
    const watched = this.sse !== null || this.bodyPhase;
    return watched && !this.bodyEnded ? "cut" : "completed";
  }

  private scrubber(): SecretScrubber {
    this.responseScrubber ??= this.key ? this.deps.keys.scrubber().with(this.key) : this.deps.keys.scrubber();
    return this.responseScrubber;
  }
}

const TEXTUAL = /^(application\/([\w.+-]*\+)?json|text\/)/i;

function isTextual(contentType: string | undefined): boolean {
  return contentType !== undefined && TEXTUAL.test(contentType.trimStart());
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
