package warden.authz_test

# input.rate_limits (rate_limits.rego), on the table's base input and the shipped data.json.

import data.tests as table
import data.warden.authz

with_limits(limits) := object.union(table.base, {"rate_limits": limits})

tenant_limit(mode) := {
	"scope": "tenant",
	"subject": "acme",
	"unit": "requests",
	"per_minute": 10000,
	"failure_mode": mode,
}

team_token_limit(mode) := {
	"scope": "team",
	"subject": "engineering",
	"unit": "tokens",
	"per_minute": 50000,
	"failure_mode": mode,
}

test_a_request_under_a_fail_closed_limit_is_marked_for_the_fail_closed_stage if {
	d := authz.decision with input as with_limits([tenant_limit("open"), team_token_limit("closed")])
	d.allow
	d.metadata.rate_limit_fail_closed == "true"
}

test_a_request_under_fail_open_limits_only_is_not_marked if {
	d := authz.decision with input as with_limits([tenant_limit("open"), team_token_limit("open")])
	d.allow
	not "rate_limit_fail_closed" in object.keys(d.metadata)
}

test_no_limits_no_mark if {
	d := authz.decision with input as table.base
	d.allow
	not "rate_limit_fail_closed" in object.keys(d.metadata)
}

test_a_malformed_rate_limits_field_is_ignored_not_fatal if {
	d := authz.decision with input as object.union(table.base, {"rate_limits": "closed"})
	d.allow
	not "rate_limit_fail_closed" in object.keys(d.metadata)
}
