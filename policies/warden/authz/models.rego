package warden.authz

# Stage 7 (403): LLM model allow-lists. Every level (global, tenant, team, agent) that lists the
# provider must allow the model, so a narrower level can only restrict, never widen; a provider
# no level lists is denied (default deny).

model_denial := "model_missing" if {
	service_kind == "llm"
	is_object(input_object.llm)
	model == ""
} else := "model_not_allowed" if {
	model != ""
	not model_allowed
}

model_provider := p if {
	p := llm.provider
	non_empty_string(p)
} else := service_name

model_lists_config := as_object(object.get(config, "models", {}))

model_levels := [
	object.get(model_lists_config, "global", {}),
	object.get(object.get(model_lists_config, "tenants", {}), agent_tenant, {}),
	object.get(object.get(model_lists_config, "teams", {}), agent_team, {}),
	object.get(object.get(model_lists_config, "agents", {}), agent_spiffe_id, {}),
]

model_lists := [list |
	some level in model_levels
	list := level[model_provider]
]

model_allowed if {
	count(model_lists) > 0
	every list in model_lists {
		model_in(list)
	}
}

model_in(list) if {
	some pattern in list
	wildcard_match(pattern, model)
}
