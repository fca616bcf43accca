import type { Handlers } from "../http/routes.js";
import type { TokenServiceContext } from "./context.js";
import { GRANT_TYPES } from "./grants.js";

/**
 * RFC 8414 / OpenID Connect discovery for the token service. The token, revocation and
 * introspection endpoints live on the mutual-TLS listener (RFC 8705 §5: they are also given as
 * `mtls_endpoint_aliases`); the JWKS is public on both listeners.
 */
export function discoveryDocument(tokens: TokenServiceContext): Record<string, unknown> {
  const { issuer, mtls } = tokens.urls;
  const endpoint = (path: string) => (mtls ? `${mtls}${path}` : null);
  const endpoints = {
    token_endpoint: endpoint("/oauth2/token"),
    revocation_endpoint: endpoint("/oauth2/revoke"),
    introspection_endpoint: endpoint("/oauth2/introspect"),
  };
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    ...endpoints,
    grant_types_supported: [...GRANT_TYPES],
    token_endpoint_auth_methods_supported: ["tls_client_auth"],
    revocation_endpoint_auth_methods_supported: ["tls_client_auth"],
    introspection_endpoint_auth_methods_supported: ["tls_client_auth"],
    tls_client_certificate_bound_access_tokens: true,
    mtls_endpoint_aliases: mtls ? endpoints : {},
    token_endpoint_auth_signing_alg_values_supported: ["ES256"],
    response_types_supported: [],
    scopes_supported: [...tokens.catalogue.scopes].sort(),
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["ES256"],
  };
}

export function discoveryHandlers(tokens: TokenServiceContext): Handlers {
  return {
    getOpenIdConfiguration: async () => discoveryDocument(tokens),
    // RFC 8414 §3: what MCP clients fetch for the authorization server an RFC 9728 resource names.
    getOAuthAuthorizationServerMetadata: async () => discoveryDocument(tokens),
  };
}
