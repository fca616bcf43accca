package warden.authz_test

# Table-driven tests: every case in cases.json (loaded by `opa test policies` as data.tests) runs
# against the policy and the shipped data.json. The same table runs through the compiled WebAssembly
# in test/unit/policy-decisions.test.ts, so the Rego and the bundle cannot drift apart.

import data.tests as table
import data.warden.authz

case_input(c) := c.input if {
	"input" in object.keys(c)
} else := json.remove(
	object.union(table.base, object.get(c, "patch", {})),
	object.get(c, "remove", []),
)

case_config(c) := c.config if {
	"config" in object.keys(c)
} else := object.union(data.warden.config, object.get(c, "config_patch", {}))

# MCP servers come from the registry at run time (authz-server), not from data.json: the table gives
# them (`mcp_servers`, `mcp_external_services`), and a case may replace them.
case_mcp(c, key) := object.get(c, key, object.get(table, key, {}))

outcome(c) := d if {
	request := case_input(c)
	config := case_config(c)
	d := authz.decision with input as request
		with data.warden.config as config
		with data.warden.mcp_servers as case_mcp(c, "mcp_servers")
		with data.warden.mcp_external_services as case_mcp(c, "mcp_external_services")
} else := "undefined"

meets(d, expect) if {
	d.allow == expect.allow
	d.status == expect.status
	d.reason == expect.reason
	every key, value in object.get(expect, "metadata", {}) {
		d.metadata[key] == value
	}
}

mismatches contains message if {
	some c in table.cases
	d := outcome(c)
	not meets(d, c.expect)
	message := sprintf("%s: expected %v, got %v", [c.name, c.expect, d])
}

test_decision_table if {
	count(table.cases) > 0
	every message in mismatches {
		print(message)
	}
	count(mismatches) == 0
}

test_every_reason_has_a_case if {
	covered := {c.expect.reason | some c in table.cases}
	missing := {reason | some reason, _ in authz.reasons; not reason in covered}
	every reason in missing {
		print("no case expects reason", reason)
	}
	count(missing) == 0
	"allowed" in covered
}

tier_rule_ids contains rule.id if {
	some rule in data.warden.config.tiers.global
}

tier_rule_ids contains rule.id if {
	some tier in ["teams", "agent_types", "agents"]
	some rules in data.warden.config.tiers[tier]
	some rule in rules
}

test_every_shipped_tier_rule_has_a_case if {
	exercised := {c.expect.metadata.rule | some c in table.cases}
	missing := tier_rule_ids - exercised
	every id in missing {
		print("no case exercises tier rule", id)
	}
	count(missing) == 0
}

test_case_names_are_unique if {
	names := [c.name | some c in table.cases]
	count(names) == count({name | some name in names})
}

test_every_decision_has_the_contract_shape if {
	every c in table.cases {
		d := outcome(c)
		is_boolean(d.allow)
		is_number(d.status)
		is_string(d.reason)
		is_object(d.headers)
		is_object(d.metadata)
	}
}

test_every_denial_has_a_message if {
	every c in table.cases {
		d := outcome(c)
		d.allow == false
		is_string(d.metadata.message)
	} with table.cases as [c | some c in table.cases; c.expect.allow == false]
}

test_wildcards if {
	authz.wildcard_match("mcp:*", "mcp:search")
	authz.wildcard_match("*", "anything")
	not authz.wildcard_match("mcp:*", "llm:chat")
	not authz.wildcard_match(true, "true")
	authz.path_matches("/repos/*/*", "/repos/a/b")
	not authz.path_matches("/repos/*/*", "/repos/a")
	not authz.path_matches("/repos/*/*", "/repos/a/b/c")
	authz.path_matches("/orgs/*/members/**", "/orgs/a/members")
	authz.path_matches("/orgs/*/members/**", "/orgs/a/members/b/c")
	not authz.path_matches("/orgs/*/members/**", "/orgs/a")
	authz.path_matches("/exact", "/exact")
}
