package warden.authz

# Stage 7 (403): LLM model allow-lists. Every level (global, tenant, team, agent) that lists the
# provider must allow the model, so a narrower level can only restrict, never widen; a provider
# no level lists is denied (default deny).
#
# Aliases (`models.aliases.<provider>.<alias>`, e.g. "fast" → "gpt-4o-mini") are resolved first:
# every rule (allow-lists, tier rules) decides on the model the alias stands for, the allowed
# decision names that model in its metadata, and extproc-server sends it upstream in place of the
# alias. The alias is kept as `requested_model`.

requested_model := string_or_empty(object.get(llm, "model", ""))

model_aliases := as_object(object.get(as_object(object.get(model_lists_config, "aliases", {})), model_provider, {}))

model := m if {
	m := model_aliases[requested_model]
	non_empty_string(m)
} else := requested_model

model_denial := "model_missing" if {
	service_kind == "llm"
	is_object(input_object.llm)
	model == ""
	not model_less_endpoint
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
		model_in(list, model)
	}
}

model_in(list, name) if {
	some pattern in list
	wildcard_match(pattern, name)
}

# What this agent may use with this provider, as listed entries (names or "prefix*" patterns) that
# every level admits: the agent reads exactly what it could ask for instead.
allowed_models := sort({entry |
	some list in model_lists
	some entry in list
	every other in model_lists {
		model_in(other, entry)
	}
})

model_denial_message := sprintf("model %s is not allowed for this agent; allowed %s models: %s", [
	model_shown,
	model_provider,
	concat(", ", allowed_models),
]) if {
	count(allowed_models) > 0
} else := sprintf("model %s is not allowed: no %s model is allowed for this agent", [model_shown, model_provider])

model_shown := sprintf("%s (alias %s)", [model, requested_model]) if {
	model != requested_model
} else := model

# Endpoints that name no model by design (listing models, reading one, token counting without a
# model): decided on route and identity like any other request, never refused for lacking a model.
# `models.endpoints_without_model.<provider>`: [{"method", "path"}], path exact or "prefix*".
model_less_endpoints := object.get(as_object(object.get(model_lists_config, "endpoints_without_model", {})), model_provider, [])

model_less_endpoint if {
	some endpoint in model_less_endpoints
	endpoint.method == object.get(request, "method", "")
	wildcard_match(endpoint.path, object.get(request, "path", ""))
}
