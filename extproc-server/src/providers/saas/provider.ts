import type { SaasCatalogue } from "../../../../lib/src/saas/catalogue.js";
import type { OAuthEvents } from "../../oauth/events.js";
import type { UserTokens } from "../../oauth/user-tokens.js";
import type { ExchangeHooks, ExchangeStart, Provider } from "../../providers.js";
import { refuseUnknownService } from "../response-scrub.js";
import { SaasExchange } from "./exchange.js";

/**
 * Attaches a SaasExchange to every exchange on a SaaS route (`kind: "saas"` in the ext_authz
 * decision, which comes from the Envoy route, never from the agent), with the catalogue entry of its
 * service. A SaaS route whose service is not in the catalogue is refused: no token could be chosen.
 */
export class SaasProvider implements Provider {
  readonly name = "saas";

  constructor(private readonly deps: { catalogue: SaasCatalogue; tokens: UserTokens; events: OAuthEvents }) {}

  attach({ handOff, requestHeaders }: ExchangeStart): ExchangeHooks | null {
    if (handOff.kind !== "saas") return null;
    const service = this.deps.catalogue.service(handOff.service ?? "");
    if (!service) return refuseUnknownService(`no SaaS catalogue entry for service ${handOff.service ?? ""}`);
    return new SaasExchange(handOff, requestHeaders, {
      service,
      tokens: this.deps.tokens,
      events: this.deps.events,
    });
  }
}
