package warden.authz

# Stage 8 (403): tiered rules from data, in the order global, team, agent type, agent. Any
# matching deny wins over every allow; with no matching allow the request is denied.

tiers := as_object(object.get(config, "tiers", {}))

tier_entries(tier, rules) := [{"tier": tier, "rule": rule} | some rule in rules]

applicable_tier_rules := array.concat(
	array.concat(
		tier_entries("global", object.get(tiers, "global", [])),
		tier_entries("team", object.get(object.get(tiers, "teams", {}), agent_team, [])),
	),
	array.concat(
		tier_entries("agent_type", object.get(object.get(tiers, "agent_types", {}), agent_type, [])),
		tier_entries("agent", object.get(object.get(tiers, "agents", {}), agent_spiffe_id, [])),
	),
)

# The facts a tier rule can match on; each `match` key lists the accepted values.
request_facts := {
	"services": service_name,
	"kinds": service_kind,
	"access": access,
	"methods": method,
	"capabilities": required_capability,
	"models": model,
	"environments": string_or_empty(object.get(agent, "environment", "")),
	"tenants": agent_tenant,
	"delegated": delegation_present_flag,
}

delegation_present_flag if {
	delegation_present
} else := false

# Paths are compared last: segment matching costs more than the exact lookups of the other keys,
# and most rules are already ruled out by service or kind.
rule_matches(rule) if {
	match := object.get(rule, "match", {})
	every key, accepted in object.remove(match, {"paths"}) {
		fact_matches(key, accepted)
	}
	paths_match(object.get(match, "paths", null))
}

fact_matches(key, accepted) if {
	value := request_facts[key]
	some pattern in accepted
	wildcard_match(pattern, value)
}

paths_match(patterns) if patterns == null

paths_match(patterns) if {
	some pattern in patterns
	path_matches(pattern, path)
}

matching_denies := [entry |
	some entry in applicable_tier_rules
	entry.rule.effect == "deny"
	rule_matches(entry.rule)
]

matching_allows := [entry |
	some entry in applicable_tier_rules
	entry.rule.effect == "allow"
	rule_matches(entry.rule)
]

tier_denial := "tier_denied" if {
	count(matching_denies) > 0
} else := "no_matching_allow" if {
	count(matching_allows) == 0
}
