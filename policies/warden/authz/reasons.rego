package warden.authz

# Every reason a decision can carry, with its HTTP status and the message the agent sees.
# 401: the caller's identity is not acceptable; 403: the identity is fine but policy says no;
# 500: Warden's own input or data is broken (fail closed, but do not blame the agent).

reasons := {
	"input_invalid": {"status": 500, "message": "the authorization input is incomplete or malformed"},
	"policy_data_invalid": {"status": 500, "message": "the policy data is missing or malformed"},
	"identity_missing": {"status": 401, "message": "no verified SPIFFE identity was presented"},
	"trust_domain_untrusted": {"status": 401, "message": "the caller's trust domain is not trusted"},
	"agent_unregistered": {"status": 401, "message": "the caller's SPIFFE ID is not a registered agent"},
	"agent_identity_mismatch": {"status": 401, "message": "the agent record does not belong to the presented identity"},
	"agent_suspended": {"status": 403, "message": "the agent is suspended"},
	"agent_revoked": {"status": 403, "message": "the agent is revoked"},
	"agent_inactive": {"status": 403, "message": "the agent is not active"},
	"agent_record_invalid": {"status": 403, "message": "the agent registration is incomplete"},
	"kya_missing": {"status": 403, "message": "the agent has no KYA attestation"},
	"kya_pending": {"status": 403, "message": "the agent's KYA attestation is pending review"},
	"kya_revoked": {"status": 403, "message": "the agent's KYA attestation is revoked"},
	"kya_expired": {"status": 403, "message": "the agent's KYA attestation has expired"},
	"kya_not_approved": {"status": 403, "message": "the agent's KYA attestation is not approved"},
	"kya_level_insufficient": {"status": 403, "message": "the agent's KYA level is below the level this service requires"},
	"destination_unknown": {"status": 403, "message": "the destination is not a known service"},
	"destination_kind_mismatch": {"status": 403, "message": "the destination kind does not match the service catalogue"},
	"capability_unknown": {"status": 403, "message": "the capability this request needs could not be determined"},
	"capability_not_attested": {"status": 403, "message": "the requested capability is not among the agent's verified capabilities"},
	"delegation_required": {"status": 403, "message": "this service needs a user delegation and none was presented"},
	"delegation_invalid": {"status": 403, "message": "the delegation is invalid"},
	"delegation_expired": {"status": 403, "message": "the delegation has expired"},
	"delegation_revoked": {"status": 403, "message": "the delegation has been revoked"},
	"delegation_destination_not_allowed": {"status": 403, "message": "the delegation does not cover this destination"},
	"delegation_tenant_mismatch": {"status": 403, "message": "the delegating user belongs to another tenant"},
	"delegation_scope_insufficient": {"status": 403, "message": "the delegation's scopes do not cover this request"},
	"model_missing": {"status": 403, "message": "the LLM request names no model"},
	"model_not_allowed": {"status": 403, "message": "the model is not allowed for this agent"},
	"tier_denied": {"status": 403, "message": "a policy rule denies this request"},
	"no_matching_allow": {"status": 403, "message": "no policy rule allows this request"},
}
