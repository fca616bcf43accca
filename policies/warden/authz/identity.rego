package warden.authz

# Stage 1 (401): who is calling. The authz-server has already verified the mTLS certificate; the
# policy decides whether that identity may use Warden at all.

identity_denial := "identity_missing" if {
	not source_verified
} else := "trust_domain_untrusted" if {
	not trust_domain_trusted
} else := "agent_unregistered" if {
	not agent_registered
} else := "agent_identity_mismatch" if {
	not agent_matches_source
}

source_verified if {
	non_empty_string(source.spiffe_id)
	startswith(source.spiffe_id, "spiffe://")
	source.verified == true
}

trust_domain_trusted if {
	non_empty_string(source.trust_domain)
	source.trust_domain in object.get(object.get(config, "identity", {}), "trusted_trust_domains", [])
	startswith(source.spiffe_id, concat("", ["spiffe://", source.trust_domain, "/"]))
}

agent_registered if is_object(input_object.agent)

agent_matches_source if agent.spiffe_id == source.spiffe_id

# Stage 2 (403): the registered agent must be active and its record complete.

agent_denial := "tenant_suspended" if {
	agent.tenant_status == "suspended"
} else := "agent_suspended" if {
	agent.status == "suspended"
} else := "agent_revoked" if {
	agent.status == "revoked"
} else := "agent_inactive" if {
	not agent.status == "active"
} else := "agent_record_invalid" if {
	not agent_record_complete
}

agent_record_complete if {
	non_empty_string(agent.id)
	non_empty_string(agent.tenant)
}
