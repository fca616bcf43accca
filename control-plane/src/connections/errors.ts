import { OAuthProviderError } from "../../../lib/src/saas/oauth-client.js";
import type { SaasService } from "../../../lib/src/saas/catalogue.js";
import { VaultError } from "../../../lib/src/vault/client.js";
import { ApiError } from "../http/errors.js";

/** What the connection endpoints refuse, as ApiErrors (one place), and the pure callback checks. */
export function badField(field: string, message: string): ApiError {
  return new ApiError("bad_request", `${field}: ${message}`, [{ field, message }]);
}

export type CallbackRefusal =
  | "state_unknown"
  | "state_expired"
  | "state_replayed"
  | "consent_denied"
  | "issuer_mismatch"
  | "issuer_missing";

/** An invalid, expired or replayed `state`, or a wrong issuer: 400 naming why. */
export function badState(reason: CallbackRefusal): ApiError {
  const messages = {
    state_unknown: "state is unknown: start the connection again",
    state_expired: "state has expired: start the connection again",
    state_replayed: "state was already used: start the connection again",
    consent_denied: "the provider reported that consent was not given",
    issuer_mismatch: "the authorization response names another issuer (RFC 9207): nothing was linked",
    issuer_missing:
      "the provider always names its issuer (RFC 9207) and this response does not: nothing was linked",
  } as const;
  const field = reason.startsWith("issuer") ? "query.iss" : "query.state";
  return new ApiError("bad_request", `${reason}: ${messages[reason]}`, [{ field, message: reason }]);
}

/** The flow was started in another browser (or the cookie is gone): nothing is exchanged or stored. */
export function browserMismatch(): ApiError {
  return new ApiError(
    "forbidden",
    "browser_mismatch: this connection was started in another browser session; nothing was linked. Start it again from your own session.",
    [{ field: "cookie", message: "browser_mismatch" }],
  );
}

/**
 * RFC 9207 §2.4: an `iss` in the authorization response must be the provider's issuer (when the
 * catalogue names it), and a provider that always sends it must have sent it. Unknown issuers are
 * not guessed at: without `issuer` in the catalogue, `iss` is ignored like any other parameter.
 */
export function issuerRefusal(
  iss: string | undefined,
  service: Pick<SaasService, "issuer" | "iss_parameter_supported">,
): "issuer_mismatch" | "issuer_missing" | null {
  if (iss === undefined) return service.iss_parameter_supported ? "issuer_missing" : null;
  return service.issuer !== undefined && iss !== service.issuer ? "issuer_mismatch" : null;
}

/** A failure of the provider or of Vault, as the caller should see it (never a 500 for a provider's fault). */
export function failureOf(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof OAuthProviderError) {
    if (error.failure === "unavailable") return new ApiError("unavailable", `${error.message}; try again`);
    if (error.failure === "bad_response")
      return new ApiError("bad_gateway", `${error.message}; nothing was stored`);
    return new ApiError("bad_request", error.message, [{ field: "query.code", message: error.failure }]);
  }
  if (error instanceof VaultError && !error.unavailable)
    return new ApiError(
      "internal",
      "the secret store refused the request (check the control plane's Vault policy)",
    );
  return new ApiError("unavailable", "the secret store (Vault) is unavailable; try again");
}
