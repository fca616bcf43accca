import { WardenError } from "../../../../lib/src/errors.js";
import {
  operationOf,
  scopesAllowing,
  type SaasOperation,
  type SaasService,
} from "../../../../lib/src/saas/catalogue.js";
import type { AuthzHandOff } from "../../../../lib/src/handoff/contract.js";
import type { SecretScrubber } from "../../credentials/scrub.js";
import { StreamScrubber } from "../../credentials/stream-scrubber.js";
import type { HeaderEdits, HeaderView } from "../../header-edits.js";
import type { OAuthEvents, RequestIdentity } from "../../oauth/events.js";
import type { UserTokens } from "../../oauth/user-tokens.js";
import type { BodyReplacement, ExchangeHooks, MaybeAsync, ResponseStart } from "../../providers.js";
import { isJsonOrText, scrubResponseHeaders } from "../response-scrub.js";
import { ScrubbedSseStream } from "../../sse/scrubbed-stream.js";
import { delegatingUser } from "./delegating-user.js";
import { redactTokenFields } from "./token-fields.js";

export interface SaasExchangeDeps {
  readonly service: SaasService;
  readonly tokens: UserTokens;
  readonly events: OAuthEvents;
}

const NO_DELEGATION =
  "this request acts on a user's account and needs a valid delegation from that user (header x-warden-delegation); nothing was sent upstream";
const WITHHELD = Buffer.from(
  JSON.stringify({
    error: {
      code: "upstream_unavailable",
      message: "the provider's answer named a token field but could not be read; it was withheld",
    },
  }),
);

/**
 * One call to a SaaS API on behalf of a user: the delegation (from the ext_authz hand-off, never
 * from the agent) must be there and cover the operation; the user's token for the service comes
 * from Vault (refreshed when about to expire) and goes upstream as `Authorization: Bearer`, in place
 * of whatever the agent sent (the core already removed it). The answer is stripped of token fields
 * and of the token itself; a 401 refreshes the token so the agent's next call succeeds.
 */
export class SaasExchange implements ExchangeHooks {
  private readonly operation: SaasOperation;
  private identity: RequestIdentity | null = null;
  private token: string | null = null;
  private responseScrubber: SecretScrubber | null = null;
  private sse: ScrubbedSseStream | null = null;
  private parts: Uint8Array[] | null = null;
  private bodyScrubber: StreamScrubber | null = null;

  constructor(
    private readonly handOff: AuthzHandOff,
    requestHeaders: HeaderView,
    private readonly deps: SaasExchangeDeps,
  ) {
    this.operation = operationOf(deps.service, requestHeaders.get(":method") ?? "GET");
  }

  onRequestHeaders(headers: HeaderView, edits: HeaderEdits): MaybeAsync<void> {
    const { handOff } = this;
    const { service } = this.deps;
    // The shared credential headers are gone already (request-headers.ts); these are the service's own.
    for (const name of service.credential_headers) if (headers.has(name)) edits.remove(name);
    const identity = delegatingUser(handOff);
    if (!identity) throw new WardenError("delegation_required", NO_DELEGATION);
    const allowing = scopesAllowing(service, this.operation);
    const held = handOff.scopes.filter((scope) => allowing.includes(scope));
    if (held.length === 0)
      throw new WardenError(
        "delegation_scope_insufficient",
        `the delegation does not allow ${this.operation} on ${service.name} (needs one of: ${allowing.join(", ")}); nothing was sent upstream`,
      );
    this.identity = identity;
    const token = this.deps.tokens.tokenFor(service, identity);
    if (typeof token === "string") return this.inject(edits, token);
    return token.then((value) => this.inject(edits, value));
  }

  private inject(edits: HeaderEdits, token: string): void {
    this.token = token;
    edits.set("authorization", `Bearer ${token}`);
    // A compressed answer could not be stripped of token fields: ask for plain bytes.
    edits.set("accept-encoding", "identity");
    this.deps.events.record({
      kind: "token_injected",
      service: this.deps.service.name,
      identity: this.identity!,
      details: { operation: this.operation },
    });
  }

  async onResponseHeaders(response: ResponseStart, edits: HeaderEdits): Promise<void> {
    if (response.status === 401 && this.identity && this.token) {
      // ext_proc cannot send the request upstream again; refreshing now makes the next call succeed.
      await this.deps.tokens.unauthorized(this.deps.service, this.identity, this.token);
      edits.set("x-warden-token-refreshed", "true");
    }
    const scrubber = this.scrubber();
    scrubResponseHeaders(response, edits, scrubber);
    if (response.eventStream) this.sse = new ScrubbedSseStream(scrubber, () => undefined);
  }

  wantsResponseBody(response: ResponseStart): boolean {
    // A body that is not JSON or text is still scanned for the token, chunk by chunk.
    if (!isJsonOrText(response.headers.get("content-type"))) {
      this.bodyScrubber = new StreamScrubber(this.scrubber());
      return true;
    }
    this.parts = [];
    return true;
  }

  onResponseBody(chunk: Uint8Array, endOfStream: boolean): BodyReplacement {
    if (this.sse) return this.sse.chunk(chunk, endOfStream);
    if (this.bodyScrubber) return this.bodyScrubber.chunk(chunk, endOfStream);
    if (!this.parts) return undefined;
    // The JSON answer is kept whole (token fields are redacted structurally), chunk by chunk: the
    // body comes STREAMED, never BUFFERED (docs/response-path.md); the agent gets it at its end.
    if (!endOfStream) {
      this.parts.push(Uint8Array.from(chunk));
      return new Uint8Array(0);
    }
    const whole = this.parts.length === 0 ? chunk : Buffer.concat([...this.parts, chunk]);
    const split = this.parts.length > 0;
    this.parts = null;
    const text = Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength).toString("utf8");
    const redacted = redactTokenFields(text);
    if (redacted === null) return WITHHELD;
    const bytes = redacted === undefined ? whole : Buffer.from(redacted, "utf8");
    const scrubbed = this.scrubber().scrub(bytes);
    if (scrubbed) return scrubbed;
    return redacted !== undefined || split ? bytes : undefined;
  }

  private scrubber(): SecretScrubber {
    this.responseScrubber ??= this.token
      ? this.deps.tokens.scrubber().with(this.token)
      : this.deps.tokens.scrubber();
    return this.responseScrubber;
  }
}
