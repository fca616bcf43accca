/**
 * Refusal reasons about the caller's identity, in one place for the consumers of audit rows (the
 * SIEM export and the webhook events). Names and statuses: policies/README.md, sdk/reasons.json.
 */

/**
 * The caller could not prove who it is: certificate, trust domain, registration, delegation binding,
 * a sidecar's vouching, a zero-code binding, a bearer token or client. Every 401 reason of
 * sdk/reasons.json is here (identity-reasons.test.ts checks it).
 */
const IDENTITY_NOT_PROVEN = [
  "identity_missing",
  "certificate_expired",
  "certificate_invalid",
  "certificate_not_yet_valid",
  "certificate_untrusted",
  "trust_domain_untrusted",
  "agent_unregistered",
  "agent_identity_mismatch",
  "delegation_signature_invalid",
  "delegation_issuer_untrusted",
  "delegation_certificate_mismatch",
  "sidecar_vouch_invalid",
  "zero_code_unbound",
  "token_invalid",
  "invalid_client",
] as const;

/** A failed authentication (the API's 401 `unauthenticated` included): OCSF's Authentication class. */
export const AUTHENTICATION_FAILURES: ReadonlySet<string> = new Set([
  ...IDENTITY_NOT_PROVEN,
  "unauthenticated",
]);

/**
 * A data-plane refusal because the caller's identity did not hold: not proven, or proven but the
 * agent is not active, or the delegation names another agent or tenant.
 */
export const IDENTITY_FAILURES: ReadonlySet<string> = new Set([
  ...IDENTITY_NOT_PROVEN,
  "agent_revoked",
  "agent_suspended",
  "agent_inactive",
  "delegation_agent_mismatch",
  "delegation_tenant_mismatch",
]);
