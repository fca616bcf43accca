package warden.authz

# Stage 6 (403): acting on behalf of a user. The authz-server verified the delegation token's
# signature, its binding to the calling SVID and revocation (docs/delegations.md); the policy checks
# lifetime, tenant, destinations and scopes. Services marked `delegation: required` (user-data
# SaaS) refuse requests that carry no delegation.

delegation_mode := object.get(service_config, "delegation", "optional")

delegation_denial := "delegation_required" if {
	not delegation_present
	delegation_mode == "required"
} else := "delegation_expired" if {
	delegation_present
	not delegation.valid == true
	delegation.error == "expired"
} else := "delegation_revoked" if {
	delegation_present
	not delegation.valid == true
	delegation.error == "revoked"
} else := r if {
	delegation_present
	not delegation.valid == true
	r := delegation_error_reasons[delegation.error]
} else := "delegation_invalid" if {
	delegation_present
	not delegation.valid == true
} else := "delegation_expired" if {
	delegation_present
	not delegation_unexpired
} else := "delegation_invalid" if {
	delegation_present
	not delegation_user_known
} else := "delegation_tenant_mismatch" if {
	delegation_present
	not delegation.user.tenant == agent_tenant
} else := "delegation_destination_not_allowed" if {
	delegation_present
	not delegation_destination_allowed
} else := "delegation_scope_insufficient" if {
	delegation_present
	not delegation_scopes_cover
}

# A delegation limited to some services (`destinations`) covers only those; no list means any.
delegation_destinations := d if {
	d := object.get(delegation, "destinations", [])
	is_array(d)
} else := ["<malformed>"]

delegation_destination_allowed if count(delegation_destinations) == 0

delegation_destination_allowed if service_name in delegation_destinations

delegation_unexpired if {
	is_number(delegation.expires_at)
	delegation.expires_at > now_ns
}

delegation_user_known if {
	non_empty_string(delegation.id)
	non_empty_string(delegation.user.id)
}

# Scopes that satisfy this service and access class; any one of them is enough.
required_scopes := s if {
	s := service_config.scopes[access]
	is_array(s)
}

delegation_scopes_cover if not required_scopes

delegation_scopes_cover if {
	some scope in object.get(delegation, "scopes", [])
	scope in required_scopes
}

delegated_user_id := delegation.user.id if {
	delegation_present
} else := null

delegation_id := delegation.id if {
	delegation_present
} else := null

delegated_scopes := s if {
	delegation_present
	s := delegation.scopes
	is_array(s)
} else := []

# Why authz-server refused the token (lib/src/tokens/verify.ts), as a reason the agent can act on:
# re-issue, ask the right issuer, present it from the right SVID, wait. Never key material.
delegation_error_reasons := {
	"malformed": "delegation_malformed",
	"unsupported_token_type": "delegation_type_unsupported",
	"unknown_key": "delegation_key_unknown",
	"signature_invalid": "delegation_signature_invalid",
	"claims_invalid": "delegation_claims_invalid",
	"issuer_invalid": "delegation_issuer_untrusted",
	"audience_invalid": "delegation_audience_mismatch",
	"not_yet_valid": "delegation_not_yet_valid",
	"agent_mismatch": "delegation_agent_mismatch",
	"certificate_mismatch": "delegation_certificate_mismatch",
	"not_accepted": "delegation_not_accepted",
	"revocation_status_unknown": "delegation_revocation_unknown",
}
