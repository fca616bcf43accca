/**
 * The contract between authz-server and extproc-server: the decision travels as Envoy dynamic
 * metadata in this namespace (ext_proc gets it because its filter config forwards the namespace).
 * Keys are snake_case on the wire.
 */
export const EXT_AUTHZ_NAMESPACE = "envoy.filters.http.ext_authz";

/**
 * The header an agent sends a user's delegation (or an access token exchanged for one) in. Only
 * authz-server reads it; it is removed before anything goes upstream (docs/delegations.md).
 */
export const DELEGATION_HEADER = "x-warden-delegation";

export interface HandOff {
  decision_id: string;
  policy_revision: string;
  agent_spiffe_id: string | null;
  agent_id: string | null;
  tenant: string | null;
  user_id: string | null;
  delegation_id: string | null;
  scopes: string[];
  service: string;
  kind: string;
  /** Names of the `x-warden-*` headers the policy added upstream (ext_proc keeps those). */
  policy_headers: string[];
}
