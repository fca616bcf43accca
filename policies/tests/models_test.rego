package warden.authz_test

# Model allow-lists and aliases (models.rego), on the table's base input and the shipped data.json.

import data.tests as table
import data.warden.authz

llm_request(patch) := object.union(table.base, patch)

openai_model(name) := llm_request({"llm": {"provider": "openai", "model": name}})

anthropic_model(name) := llm_request({
	"destination": {"service": "anthropic", "kind": "llm"},
	"llm": {"provider": "anthropic", "model": name},
})

test_an_alias_is_decided_on_the_model_it_stands_for if {
	d := authz.decision with input as openai_model("fast")
	d.allow
	d.metadata.model == "gpt-4o-mini"
	d.metadata.requested_model == "fast"
}

test_the_allowed_decision_names_the_agents_team if {
	d := authz.decision with input as openai_model("gpt-4o-mini")
	d.metadata.team == "engineering"
	d.metadata.requested_model == "gpt-4o-mini"
}

test_an_alias_to_a_model_the_agent_may_not_use_is_denied_naming_both if {
	# For tenant acme, Anthropic's "default" (claude-sonnet-4-...) is allowed but the team's list is not;
	# narrow the team to haiku so the alias resolves to a model outside the list.
	config := object.union(data.warden.config, {"models": object.union(data.warden.config.models, {
		"teams": {"engineering": {"anthropic": ["claude-3-5-haiku-*"]}},
	})})
	d := authz.decision with input as anthropic_model("default") with data.warden.config as config
	not d.allow
	d.reason == "model_not_allowed"
	d.metadata.model == "claude-sonnet-4-20250514"
	d.metadata.requested_model == "default"
	d.metadata.message == "model claude-sonnet-4-20250514 (alias default) is not allowed for this agent; allowed anthropic models: claude-3-5-haiku-*"
}

test_the_denial_lists_exactly_what_every_level_allows if {
	d := authz.decision with input as openai_model("gpt-4-turbo")
	d.reason == "model_not_allowed"
	d.metadata.allowed_models == ["gpt-4.1*", "gpt-4o", "gpt-4o-mini", "o3-mini"]
	d.metadata.message == "model gpt-4-turbo is not allowed for this agent; allowed openai models: gpt-4.1*, gpt-4o, gpt-4o-mini, o3-mini"
}

test_a_narrower_level_shrinks_the_list_the_agent_reads if {
	support := llm_request({"agent": object.union(table.base.agent, {"team": "support"}), "llm": {"provider": "openai", "model": "gpt-4o"}})
	d := authz.decision with input as support
	d.reason == "model_not_allowed"
	d.metadata.allowed_models == ["gpt-4o-mini"]
}

test_entries_a_wider_level_does_not_admit_are_not_listed if {
	config := object.union(data.warden.config, {"models": object.union(data.warden.config.models, {
		"teams": {"engineering": {"openai": ["gpt-*", "gpt-4o"]}},
	})})
	d := authz.decision with input as openai_model("o3-mini") with data.warden.config as config
	d.reason == "model_not_allowed"
	d.metadata.allowed_models == ["gpt-4.1*", "gpt-4o", "gpt-4o-mini"]
}

test_a_provider_no_level_lists_says_nothing_is_allowed if {
	d := authz.decision with input as llm_request({"llm": {"provider": "mistral", "model": "mistral-large"}})
	d.reason == "model_not_allowed"
	d.metadata.allowed_models == []
	d.metadata.message == "model mistral-large is not allowed: no mistral model is allowed for this agent"
}

test_an_unknown_name_is_not_an_alias if {
	d := authz.decision with input as openai_model("gpt-4o")
	d.metadata.model == "gpt-4o"
	d.metadata.requested_model == "gpt-4o"
}

test_an_alias_with_an_empty_target_is_ignored if {
	config := object.union(data.warden.config, {"models": object.union(data.warden.config.models, {
		"aliases": {"openai": {"gpt-4o": ""}},
	})})
	d := authz.decision with input as openai_model("gpt-4o") with data.warden.config as config
	d.allow
	d.metadata.model == "gpt-4o"
}

test_tier_rules_match_the_resolved_model if {
	config := object.union(data.warden.config, {"tiers": object.union(data.warden.config.tiers, {"global": array.concat(
		[{"id": "no-mini", "effect": "deny", "match": {"models": ["gpt-4o-mini"]}, "message": "no mini"}],
		data.warden.config.tiers.global,
	)})})
	d := authz.decision with input as openai_model("fast") with data.warden.config as config
	d.reason == "tier_denied"
	d.metadata.message == "no mini"
}
