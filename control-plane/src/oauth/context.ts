import type { ScopeCatalogue } from "../delegations/catalogue.js";
import type { GrantLimits } from "../delegations/model.js";
import type { TokenSigner } from "./token-signer.js";

/** What delegations and the token service need beyond the AppContext; built once in app.ts. */
export interface TokenServiceContext {
  /** null when Vault is not configured: grants and token issuance then fail with 503. */
  signer: TokenSigner | null;
  catalogue: ScopeCatalogue;
  limits: GrantLimits;
  /** Claim of the user's OIDC token listing the scopes they may delegate (absent: any catalogue scope). */
  delegableScopesClaim: string;
  accessTokenTtlSeconds: number;
  /** Known once the listeners are bound. */
  urls: TokenServiceUrls;
}

export interface TokenServiceUrls {
  /** `iss` of every token, and where `/.well-known/openid-configuration` is served. */
  issuer: string;
  /** The mutual-TLS listener's base URL (`/oauth2/*`), or null when it is not running. */
  mtls: string | null;
}
