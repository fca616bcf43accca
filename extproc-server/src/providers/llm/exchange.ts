import { WardenError } from "../../../../lib/src/errors.js";
import type { AuthzHandOff } from "../../../../lib/src/handoff/contract.js";
import type { BudgetGuard } from "../../budgets/budget-guard.js";
import type { TokenCharges } from "../../ratelimit/token-charges.js";
import type { BudgetReservations } from "../../budgets/budget-reserver.js";
import type { ReservationHandle } from "../../../../lib/src/llm/budget-reservations.js";
import type { SecretScrubber } from "../../credentials/scrub.js";
import { StreamScrubber } from "../../credentials/stream-scrubber.js";
import type { LlmKeySource } from "../../credentials/key-source.js";
import type { HeaderEdits, HeaderView } from "../../header-edits.js";
import type { BodyReplacement, ExchangeHooks, MaybeAsync, ResponseStart } from "../../providers.js";
import { isJsonTextOrNdjson, scrubResponseHeaders } from "../response-scrub.js";
import type { SseEvent } from "../../sse/decoder.js";
import { ScrubbedSseStream, type SseEventVerdict } from "../../sse/scrubbed-stream.js";
import { spenderOf } from "../../usage/accounting.js";
import { BoundedBody, lastObjectField, stringField } from "../../usage/bounded-body.js";
import {
  DeliveredText,
  estimateUsage,
  loadTokenCounter,
  requestText,
  type TextSample,
  type TokenCounter,
} from "../../usage/estimate.js";
import { NO_TOKENS, type UsageOutcome, type UsageRecord, type UsageSink } from "../../usage/record.js";
import {
  isRecord,
  parseJson,
  pathOnly,
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
  /** Hard budgets, checked before anything else (null: none are enforced); a fast in-memory pre-check. */
  readonly budgets: BudgetGuard | null;
  /** The authority on hard budgets: the worst case reserved before forwarding, settled after (null: none). */
  readonly reservations: BudgetReservations | null;
  /** Where the call's tokens are charged against token rate limits (absent: nowhere). */
  readonly tokenCharges?: TokenCharges;
  /** Counts tokens when usage must be estimated (loaded on first use); a test may pass its own. */
  readonly tokenCounter?: () => Promise<TokenCounter>;
  /** Monotonic milliseconds (performance.now) for latencies. */
  readonly monotonicMs: () => number;
  readonly wallClock: () => Date;
}

const NO_TENANT = "the request's identity names no tenant, so no LLM key can be chosen";

/**
 * One LLM call through the sidecar: the budgets checked (402 when one is used up), the tenant's key
 * from Vault in the provider's header (after the core removed whatever the agent sent), the request
 * body read for the model (rewritten to the model the policy resolved an alias to, and where a stream
 * must be asked to report usage), the response scrubbed of keys and read for usage (a JSON body
 * whole, an SSE stream event by event as it passes), and one usage record when it ends, however it
 * ends.
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
  private refusal: WardenError | null = null;
  private firstByteMs: number | null = null;
  private responseScrubber: SecretScrubber | null = null;
  private sse: ScrubbedSseStream | null = null;
  private streamReader: StreamUsageReader | null = null;
  private bodyScrubber: StreamScrubber | null = null;
  private jsonBody: BoundedBody | null = null;
  private jsonUsage: UsageReading | null = null;
  /** The parsed request body, kept for an estimate when the provider reports no usage. */
  private requestBody: Record<string, unknown> | null = null;
  private hideUsageEvents = false;
  private readonly delivered = new DeliveredText();
  /** The agent was sent the stream's terminal event: the call is complete whatever happens after. */
  private terminalSent = false;
  private bodyPhase = false;
  private bodyEnded = false;
  private recorded = false;
  private reservation: ReservationHandle | null = null;

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

  onRequestHeaders(headers: HeaderView, edits: HeaderEdits): MaybeAsync<void> {
    try {
      const tenant = this.handOff.tenant ?? this.deps.defaultTenant;
      if (!tenant) throw new WardenError("forbidden", NO_TENANT);
      this.tenant = tenant;
      this.deps.budgets?.check(spenderOf({ ...this.handOff, tenant })!);
      this.rewritePathModel(headers, edits);
      const key = this.deps.keys.keyFor(tenant, this.deps.api.provider);
      if (typeof key === "string") return this.inject(edits, key);
      return key.then(
        (value) => this.inject(edits, value),
        (error: unknown) => this.refused(error),
      );
    } catch (error) {
      return this.refused(error);
    }
  }

  /** Remembers why Warden refused (for the usage record) and lets the refusal go on to the agent. */
  private refused(error: unknown): never {
    if (error instanceof WardenError) {
      this.refusal = error;
      this.status = error.status;
    }
    throw error;
  }

  /** Google names the model in the path: an alias the policy resolved is replaced there. */
  private rewritePathModel(headers: HeaderView, edits: HeaderEdits): void {
    const { pathModel } = this.route;
    const resolved = this.handOff.model;
    if (pathModel === null || resolved === null || resolved === pathModel) return;
    const path = headers.get(":path") ?? "";
    const bare = pathOnly(path);
    const segment = `/models/${encodeURIComponent(pathModel)}:`;
    const at = bare.lastIndexOf(segment);
    if (at === -1) return;
    edits.set(
      ":path",
      `${path.slice(0, at)}/models/${encodeURIComponent(resolved)}:${path.slice(at + segment.length)}`,
    );
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

  onRequestBody(body: Uint8Array, endOfStream: boolean): MaybeAsync<BodyReplacement> {
    // Envoy sends a BUFFERED body whole, in one message; anything else is left as it is.
    if (!endOfStream) return undefined;
    const parsed = parseJson(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
    const replacement = this.readRequestBody(parsed);
    const reserving = this.reserveWorstCase(isRecord(parsed) ? parsed : {});
    if (!reserving) return replacement;
    return reserving.then(
      () => replacement,
      (error: unknown) => this.refused(error),
    );
  }

  /**
   * Reserves the call's worst-case cost against its hard budgets before it goes upstream (null: no
   * reservation is needed, no database round trip). Refusals throw as the in-memory check does.
   */
  private reserveWorstCase(body: Record<string, unknown>): Promise<void> | null {
    const reservations = this.deps.reservations;
    if (!reservations || this.key === null || this.tenant === null) return null;
    const spender = spenderOf({ ...this.handOff, tenant: this.tenant })!;
    return reservations
      .reserve({
        spender,
        provider: this.deps.api.provider,
        models: [this.handOff.model, this.requestedModel],
        body,
      })
      .then((handle) => {
        if (handle === null) return;
        // The exchange ended while the reservation was being made: nothing went upstream.
        if (this.recorded) reservations.settle(handle, null);
        else this.reservation = handle;
      });
  }

  private readRequestBody(parsed: unknown): BodyReplacement {
    if (!isRecord(parsed)) return undefined;
    this.requestBody = parsed;
    const reading = this.deps.api.readRequest(this.route, parsed);
    this.requestedModel = reading.model ?? this.requestedModel;
    this.stream = reading.stream || this.route.pathStream;
    this.hideUsageEvents = reading.hideUsageEvents;
    // The policy decided on the model an alias stands for; that model is what goes upstream.
    const resolved = this.handOff.model;
    const realias = typeof parsed.model === "string" && resolved !== null && parsed.model !== resolved;
    if (!realias)
      return reading.rewritten ? Buffer.from(JSON.stringify(reading.rewritten), "utf8") : undefined;
    return Buffer.from(JSON.stringify({ ...(reading.rewritten ?? parsed), model: resolved }), "utf8");
  }

  onResponseHeaders(response: ResponseStart, edits: HeaderEdits): void {
    this.status = response.status;
    this.firstByteMs = this.deps.monotonicMs() - this.startedMs;
    if (response.status === 401 && this.tenant)
      this.deps.keys.invalidate(this.tenant, this.deps.api.provider);
    const encoding = response.headers.get("content-encoding");
    if (encoding !== undefined && !IDENTITY.test(encoding)) {
      // We asked for identity (inject): a compressed answer cannot be scanned for the key. Refuse it.
      this.status = 502;
      // The value is not echoed: it comes from upstream and could carry anything, a key included.
      throw new WardenError(
        "upstream_unavailable",
        "the provider answered with a compressed body, which Agent Warden cannot scan for credentials",
      );
    }
    const scrubber = this.scrubber();
    scrubResponseHeaders(response, edits, scrubber);
    if (response.eventStream) {
      this.streamReader = this.deps.api.streamUsage(this.route);
      this.sse = new ScrubbedSseStream(
        scrubber,
        (event) => this.onStreamEvent(event),
        undefined,
        this.hideUsageEvents,
      );
    }
  }

  private onStreamEvent(event: SseEvent): SseEventVerdict {
    const kind = this.streamReader!.onEvent(event);
    if (kind === "usage_only" && this.hideUsageEvents) return "drop";
    if (kind === "terminal") this.terminalSent = true;
    this.delivered.add(event.data);
    return undefined;
  }

  /**
   * Every response body is scanned for the key (STREAMED, bounded memory; stream-processor never
   * asks Envoy to buffer one), whatever its content type: JSON answering a streaming request,
   * NDJSON, octet-stream, none. A textual one is also read for usage.
   */
  wantsResponseBody(response: ResponseStart): boolean {
    if (response.eventStream) return true;
    this.bodyScrubber = new StreamScrubber(this.scrubber());
    if (isJsonTextOrNdjson(response.headers.get("content-type"))) this.jsonBody = new BoundedBody();
    return true;
  }

  onResponseBody(chunk: Uint8Array, endOfStream: boolean): BodyReplacement {
    this.bodyPhase = true;
    if (endOfStream) this.bodyEnded = true;
    if (this.sse) return this.sse.chunk(chunk, endOfStream);
    if (this.jsonBody) {
      this.jsonBody.push(chunk);
      if (endOfStream) this.jsonUsage = this.readBodyUsage(this.jsonBody);
    }
    return this.bodyScrubber?.chunk(chunk, endOfStream);
  }

  /** Usage from a whole JSON body, or from the head and tail of one too large to keep. */
  private readBodyUsage(body: BoundedBody): UsageReading | null {
    const whole = body.wholeText();
    if (whole !== null) return this.deps.api.readJsonUsage(this.route, parseJson(whole));
    const head = body.headText();
    const tail = body.tailText();
    return this.deps.api.readJsonUsage(this.route, {
      model: stringField(head, "model", "first"),
      modelVersion: stringField(tail, "modelVersion", "last"),
      usage: lastObjectField(tail, "usage"),
      usageMetadata: lastObjectField(tail, "usageMetadata"),
    });
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
      team: this.handOff.team,
      userId: this.handOff.userId,
      delegationId: this.handOff.delegationId,
      provider: this.deps.api.provider,
      operation: this.route.operation,
      requestedModel: this.requestedModel,
      model: this.handOff.model ?? this.requestedModel,
      responseModel: reading?.model ?? null,
      stream: this.stream,
      status: this.status,
      errorCode: this.refusal?.code ?? null,
      outcome: this.outcome(),
      usage: reading?.usage ?? NO_TOKENS,
      usageSource: reading === null ? "none" : this.streamReader ? "stream" : "body",
      latencyMs: round(this.deps.monotonicMs() - this.startedMs),
      timeToFirstByteMs: this.firstByteMs === null ? null : round(this.firstByteMs),
    };
    if (reading === null && this.mustEstimate()) return this.recordEstimate(record);
    this.record(record);
  }

  /** Stores the usage record and settles the call's reservation at the same cost. */
  private record(record: UsageRecord): void {
    this.deps.usage.record(record);
    // The decision's tenant (not the default one), as the sidecar's check named it.
    this.deps.tokenCharges?.charge(
      {
        tenant: this.handOff.tenant,
        team: this.handOff.team,
        agentSpiffeId: this.handOff.agentSpiffeId,
        route: this.handOff.service,
      },
      record.usage,
      record.decisionId,
    );
    if (this.reservation) this.deps.reservations?.settle(this.reservation, record);
    this.reservation = null;
  }

  /**
   * A call that went upstream and was answered (or not answered at all: a stall, a cut), but whose
   * provider reported no usage, is charged an estimate rather than nothing.
   */
  private mustEstimate(): boolean {
    if (this.refusal !== null || this.key === null || this.route.operation === "other") return false;
    return this.status === 0 || (this.status >= 200 && this.status < 300);
  }

  private recordEstimate(record: UsageRecord): void {
    const request = requestText(this.requestBody);
    const output = this.outputSample();
    const load = this.deps.tokenCounter ?? loadTokenCounter;
    load().then(
      (counter) =>
        this.record({
          ...record,
          usage: estimateUsage(counter, request, output),
          usageSource: "estimated",
        }),
      // Without a tokenizer the call is still recorded, as unmetered, never lost.
      () => this.record(record),
    );
  }

  private outputSample(): TextSample {
    const body = this.jsonBody;
    if (body && this.delivered.isEmpty) {
      const whole = body.wholeText();
      if (whole !== null) this.delivered.add(whole);
      else {
        this.delivered.add(body.headText());
        this.delivered.add(body.tailText());
      }
    }
    return this.delivered.sample();
  }

  private outcome(): UsageOutcome {
    // Without a key (refused, or the agent left first) nothing can have gone upstream.
    if (this.refusal !== null || this.key === null) return "not_forwarded";
    // The agent got the stream's terminal event: complete, even if it left before the body ended
    // (the sync Python client closes right after [DONE]).
    if (this.terminalSent) return "completed";
    // Sent upstream, but no answer reached us: the upstream or the agent ended the exchange first.
    if (this.status === 0) return "cut";
    // A body we watched must have reached its end; one we did not watch (or none at all) counts as whole.
    const watched = this.sse !== null || this.bodyPhase;
    return watched && !this.bodyEnded ? "cut" : "completed";
  }

  private scrubber(): SecretScrubber {
    this.responseScrubber ??= this.key ? this.deps.keys.scrubber().with(this.key) : this.deps.keys.scrubber();
    return this.responseScrubber;
  }
}

const IDENTITY = /^\s*(identity)?\s*$/i;

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
