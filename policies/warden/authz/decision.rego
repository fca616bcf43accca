package warden.authz

# Entrypoint warden/authz/decision. The stages run in order and the first denial wins; a
# request is allowed only when no stage denies and a tier rule allows it. The default below is
# reached only if the policy itself is broken (e.g. a reason missing from the catalogue).

default decision := {
	"allow": false,
	"status": 500,
	"reason": "policy_incomplete",
	"headers": {},
	"metadata": {},
}

decision := denial(reason) if {
	reason := first_denial
} else := allowed_decision

first_denial := r if {
	r := input_denial
} else := r if {
	r := data_denial
} else := r if {
	r := identity_denial
} else := r if {
	r := agent_denial
} else := r if {
	r := kya_denial
} else := r if {
	r := destination_denial
} else := r if {
	r := capability_denial
} else := r if {
	r := delegation_denial
} else := r if {
	r := model_denial
} else := r if {
	r := mcp_denial
} else := r if {
	r := tier_denial
} else := r if {
	r := approval_denial
}

denial(reason) := {
	"allow": false,
	"status": reasons[reason].status,
	"reason": reason,
	"headers": {},
	"metadata": object.union(
		object.union(denial_context, denial_details(reason)),
		{"message": denial_message(reason)},
	),
}

denial_context := {
	"agent_spiffe_id": object.get(source, "spiffe_id", null),
	"agent_id": object.get(agent, "id", null),
	"tenant": object.get(agent, "tenant", null),
	"service": object.get(destination, "service", null),
	"kind": object.get(destination, "kind", null),
}

denial_details(reason) := d if {
	service_kind == "mcp"
	d := mcp_denial_details(reason)
} else := {"rule": entry.rule.id, "tier": entry.tier} if {
	reason == "tier_denied"
	entry := matching_denies[0]
} else := {"required_kya_level": required_kya_level, "kya_level": object.get(kya, "level", null)} if {
	reason == "kya_level_insufficient"
} else := {"capability": required_capability} if {
	reason == "capability_not_attested"
} else := {"model": model, "requested_model": requested_model, "provider": model_provider, "allowed_models": allowed_models} if {
	reason == "model_not_allowed"
} else := {"delegation_error": object.get(delegation, "error", null)} if {
	reason == "delegation_invalid"
} else := {"required_scopes": required_scopes} if {
	reason == "delegation_scope_insufficient"
} else := {}

denial_message(reason) := m if {
	reason == "tier_denied"
	m := matching_denies[0].rule.message
	is_string(m)
} else := model_denial_message if {
	reason == "model_not_allowed"
} else := reasons[reason].message

model_or_null := model if {
	model != ""
} else := null

requested_model_or_null := requested_model if {
	requested_model != ""
} else := null

allowed_decision := {
	"allow": true,
	"status": 200,
	"reason": "allowed",
	"headers": {},
	"metadata": object.union(object.union(allowed_metadata, mcp_allowed_metadata), rate_limit_metadata),
}

allowed_metadata := {
	"agent_spiffe_id": source.spiffe_id,
	"agent_id": agent.id,
	"tenant": agent.tenant,
	"user_id": delegated_user_id,
	"delegation_id": delegation_id,
	"scopes": delegated_scopes,
	"service": service_name,
	"kind": service_kind,
	"access": access,
	"capability": required_capability,
	"model": model_or_null,
	"requested_model": requested_model_or_null,
	"team": agent_team,
	"kya_attestation_id": object.get(kya, "attestation_id", null),
	"rule": matching_allows[0].rule.id,
	"tier": matching_allows[0].tier,
}
