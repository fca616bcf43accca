import type { McpCallOutcome, McpCallRecord } from "../../../lib/src/audit/mcp-call.js";
import { WardenError } from "../../../lib/src/errors.js";
import type { AuthzHandOff, McpHandOff } from "../../../lib/src/handoff/contract.js";
import { ListFilter } from "../../../lib/src/mcp/list-filter.js";
import { LIST_METHODS, type McpItemKind } from "../../../lib/src/mcp/protocol.js";
import { NOTHING_VISIBLE } from "../../../lib/src/mcp/visibility.js";
import type { SaasCatalogue, SaasService } from "../../../lib/src/saas/catalogue.js";
import { delegatingUser } from "../providers/saas/delegating-user.js";
import { SecretScrubber } from "../credentials/scrub.js";
import { StreamScrubber } from "../credentials/stream-scrubber.js";
import type { HeaderEdits, HeaderView } from "../header-edits.js";
import type { OAuthEvents, RequestIdentity } from "../oauth/events.js";
import type { UserTokens } from "../oauth/user-tokens.js";
import type { BodyReplacement, ExchangeHooks, MaybeAsync, ResponseStart } from "../providers.js";
import { scrubResponseHeaders } from "../providers/response-scrub.js";
import { ScrubbedSseStream } from "../sse/scrubbed-stream.js";
import { auditableArguments } from "./arguments.js";
import { McpRefusal, requestIdOf, type JsonRpcId } from "./errors.js";
import { JsonOutcome, SseOutcome } from "./outcome.js";
import { SseListFilter } from "./sse-list-filter.js";

export interface McpCalls {
  record(call: McpCallRecord): void;
}

export interface McpExchangeDeps {
  readonly catalogue: SaasCatalogue | null;
  /** Users' OAuth tokens; null when extproc-server runs without Vault (no token can be injected). */
  readonly tokens: UserTokens | null;
  readonly events: OAuthEvents | null;
  readonly calls: McpCalls;
  readonly now: () => number;
}

const ALL_KINDS: ReadonlySet<McpItemKind> = new Set(["tools", "prompts", "resources"]);
const KIND_SETS: Readonly<Record<McpItemKind, ReadonlySet<McpItemKind>>> = {
  tools: new Set(["tools"]),
  prompts: new Set(["prompts"]),
  resources: new Set(["resources"]),
};
const NO_MCP_FACTS: McpHandOff = { call: null, visibility: null, upstreamCredentials: null };
const IDENTITY_ENCODING = /^\s*(identity\s*)?$/i;
const NO_DELEGATION =
  "this MCP server acts on a user's account and needs a valid delegation from that user (header x-warden-delegation); nothing was sent upstream";

/**
 * One HTTP exchange on an MCP route (`kind: "mcp"`), after ext_authz allowed it:
 * - the agent's credentials are gone (the core removes them on every route); when the policy names
 *   an external service (`mcp_upstream_credentials`), the delegating user's OAuth token for it goes
 *   upstream as `Authorization: Bearer` (the SaaS routes' token path: Vault, refresh), and a missing
 *   connection is a JSON-RPC error echoing the request's id;
 * - list answers are filtered to what the policy's `mcp_visibility` admits (nothing without it),
 *   streamed with bounded memory, JSON or SSE, single or batched;
 * - every answer is scrubbed of the injected token and every other secret Warden knows;
 * - one `mcp.call` audit record when the exchange ends.
 */
export class McpExchange implements ExchangeHooks {
  private readonly mcp: McpHandOff;
  private readonly listKinds: ReadonlySet<McpItemKind> | null;
  private readonly started: number;
  private identity: RequestIdentity | null = null;
  private service: SaasService | null = null;
  private token: string | null = null;
  /** A refusal decided at the request headers, answered once the request's id is known. */
  private pending: WardenError | null = null;
  private rpcId: JsonRpcId = null;
  private args: unknown = undefined;
  private httpStatus: number | null = null;
  private outcome: McpCallOutcome | null = null;
  private completed = false;
  /** A body follows the response headers (Envoy was asked for it). */
  private bodyWanted = false;
  private recorded = false;
  private responseScrubber: SecretScrubber | null = null;
  private sseFilter: SseListFilter | null = null;
  private jsonFilter: ListFilter | null = null;
  private sseScrub: ScrubbedSseStream | null = null;
  private bodyScrub: StreamScrubber | null = null;
  private sseOutcome: SseOutcome | null = null;
  private jsonOutcome: JsonOutcome | null = null;

  constructor(
    private readonly handOff: AuthzHandOff,
    private readonly deps: McpExchangeDeps,
  ) {
    this.mcp = handOff.mcp ?? NO_MCP_FACTS;
    this.started = deps.now();
    const method = this.mcp.call?.method;
    const listKind = method === undefined ? undefined : LIST_METHODS[method];
    // Not one known request (a batch, a GET stream): any list in the answer is filtered.
    this.listKinds = this.mcp.call === null ? ALL_KINDS : listKind ? KIND_SETS[listKind] : null;
  }

  onRequestHeaders(headers: HeaderView, edits: HeaderEdits, endOfStream: boolean): MaybeAsync<void> {
    // Only plain bytes can be filtered and scrubbed.
    edits.set("accept-encoding", "identity");
    const wanted = this.mcp.upstreamCredentials;
    if (!wanted) return;
    // Without a body there is no id to echo: a refusal is answered at once.
    const refuseNow = endOfStream;
    const service = this.deps.catalogue?.service(wanted.service);
    if (!service || !this.deps.tokens) {
      return this.hold(
        new WardenError("internal", `no OAuth connection support for service ${wanted.service}`),
        refuseNow,
      );
    }
    for (const name of service.credential_headers) if (headers.has(name)) edits.remove(name);
    const { handOff } = this;
    const identity = delegatingUser(handOff);
    if (!identity) return this.hold(new WardenError("delegation_required", NO_DELEGATION), refuseNow);
    this.identity = identity;
    const inject = (token: string): void => {
      this.token = token;
      this.service = service;
      edits.set("authorization", `Bearer ${token}`);
      this.deps.events?.record({
        kind: "token_injected",
        service: service.name,
        identity,
        details: { mcp_server: this.mcp.call?.server ?? this.handOff.service },
      });
    };
    const failed = (error: unknown): void => {
      if (!(error instanceof WardenError)) throw error;
      this.hold(error, refuseNow);
    };
    try {
      const token = this.deps.tokens.tokenFor(service, identity);
      if (typeof token === "string") return inject(token);
      return token.then(inject, failed);
    } catch (error) {
      return failed(error);
    }
  }

  /** A refusal waits for the request body, whose id the JSON-RPC error must echo; without a body it is answered now. */
  private hold(error: WardenError, now: boolean): void {
    this.pending = error;
    if (now) this.refuse();
  }

  private refuse(): never {
    const error = this.pending!;
    this.outcome = { kind: "refused", reason: error.code };
    this.completed = true;
    throw new McpRefusal(error.code, error.message, this.rpcId, {
      service: this.mcp.upstreamCredentials?.service,
    });
  }

  wantsRequestBody(): boolean {
    return this.pending !== null || this.mcp.call?.auditArguments === true;
  }

  onRequestBody(body: Uint8Array, endOfStream: boolean): BodyReplacement {
    // Asked for BUFFERED: the whole body in one message.
    if (!endOfStream) return undefined;
    let message: unknown;
    try {
      message = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
    } catch {
      message = undefined;
    }
    this.rpcId = requestIdOf(message);
    if (this.pending) this.refuse();
    if (this.mcp.call?.auditArguments) {
      const params = (message as { params?: { arguments?: unknown } } | undefined)?.params;
      this.args = auditableArguments(params?.arguments ?? {}, this.scrubber());
    }
    return undefined;
  }

  onResponseHeaders(response: ResponseStart, edits: HeaderEdits): MaybeAsync<void> {
    this.httpStatus = response.status;
    if (response.status === 401 && this.identity && this.token && this.service && this.deps.tokens) {
      // The upstream refused the user's token: refreshing now makes the agent's next call succeed
      // (ext_proc cannot send this one again), as on SaaS routes.
      const { tokens } = this.deps;
      return tokens.unauthorized(this.service, this.identity, this.token).then(() => {
        edits.set("x-warden-token-refreshed", "true");
        this.prepareAnswer(response, edits);
      });
    }
    this.prepareAnswer(response, edits);
  }

  private prepareAnswer(response: ResponseStart, edits: HeaderEdits): void {
    const scrubber = this.scrubber();
    scrubResponseHeaders(response, edits, scrubber);
    const encoding = response.headers.get("content-encoding");
    if (encoding !== undefined && !IDENTITY_ENCODING.test(encoding)) {
      // A compressed answer could be neither filtered nor scrubbed: refused rather than passed on.
      this.outcome = { kind: "upstream_status", status: response.status };
      throw new McpRefusal(
        "upstream_unavailable",
        "the MCP server answered with a compressed body Warden cannot inspect; it was withheld",
        this.rpcId,
      );
    }
    const visibility = this.mcp.visibility ?? NOTHING_VISIBLE;
    const kinds = this.listKinds;
    if (response.eventStream) {
      this.bodyWanted = true;
      if (kinds) this.sseFilter = new SseListFilter(() => new ListFilter(visibility, kinds));
      const outcome = new SseOutcome();
      this.sseOutcome = outcome;
      this.sseScrub = new ScrubbedSseStream(scrubber, (event) => {
        outcome.event(event.data);
        return undefined;
      });
    } else {
      if (kinds) this.jsonFilter = new ListFilter(visibility, kinds);
      this.jsonOutcome = new JsonOutcome();
      this.bodyScrub = new StreamScrubber(scrubber);
    }
  }

  wantsResponseBody(): boolean {
    this.bodyWanted = true;
    return true;
  }

  onResponseBody(chunk: Uint8Array, endOfStream: boolean): BodyReplacement {
    let bytes = chunk;
    if (this.sseFilter) bytes = this.sseFilter.push(bytes, endOfStream);
    else if (this.jsonFilter) {
      bytes = this.jsonFilter.push(bytes);
      if (endOfStream) bytes = Buffer.concat([bytes, this.jsonFilter.end()]);
    }
    this.jsonOutcome?.push(bytes);
    const scrubbed = this.sseScrub
      ? this.sseScrub.chunk(bytes, endOfStream)
      : this.bodyScrub?.chunk(bytes, endOfStream);
    if (endOfStream) this.completed = true;
    if (scrubbed !== undefined) return scrubbed;
    return bytes === chunk ? undefined : bytes;
  }

  onEnd(): void {
    if (this.recorded) return;
    this.recorded = true;
    const { handOff, mcp } = this;
    this.deps.calls.record({
      tenant: handOff.tenant,
      agentId: handOff.agentId,
      agentSpiffeId: handOff.agentSpiffeId,
      userId: handOff.userId,
      delegationId: handOff.delegationId,
      decisionId: handOff.decisionId,
      server: mcp.call?.server ?? handOff.service ?? "unknown",
      method: mcp.call?.method ?? null,
      name: mcp.call?.name ?? null,
      argumentsDigest: mcp.call?.argumentsDigest ?? null,
      protocolVersion: mcp.call?.protocolVersion ?? null,
      ...(this.args !== undefined ? { arguments: this.args } : {}),
      outcome: this.finalOutcome(),
      httpStatus: this.httpStatus,
      latencyMs: Math.max(0, this.deps.now() - this.started),
      upstreamCredentialsService: this.token ? (mcp.upstreamCredentials?.service ?? null) : null,
    });
  }

  private finalOutcome(): McpCallOutcome {
    if (this.outcome) return this.outcome;
    const status = this.httpStatus;
    // A header-only answer (202 to a notification, a 204) is complete at its headers.
    if (status !== null && !this.bodyWanted)
      return status < 400 ? { kind: "ok" } : { kind: "upstream_status", status };
    if (!this.completed) return { kind: "cut" };
    const read = this.sseOutcome?.outcome ?? this.jsonOutcome?.outcome ?? null;
    if (read) return read;
    return status !== null && status >= 400 ? { kind: "upstream_status", status } : { kind: "ok" };
  }

  private scrubber(): SecretScrubber {
    if (this.responseScrubber) return this.responseScrubber;
    const known = this.deps.tokens?.scrubber();
    if (known) this.responseScrubber = this.token ? known.with(this.token) : known;
    else {
      // Without Vault there is no secret to scrub; an empty scrubber passes bytes unchanged.
      this.responseScrubber = this.token ? emptyScrubber().with(this.token) : emptyScrubber();
    }
    return this.responseScrubber;
  }
}

const EMPTY_SCRUBBER = new SecretScrubber([]);
function emptyScrubber(): SecretScrubber {
  return EMPTY_SCRUBBER;
}
