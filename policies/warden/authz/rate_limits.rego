package warden.authz

# The stored rate limits this request falls under (authz-server fills `input.rate_limits`:
# `[{scope, subject, unit, per_minute, failure_mode}]`, the request's tenant only; docs/rate-limits.md).
# Counting is the rate-limit service's job, not the policy's: the policy reads the limits to decide
# what the sidecar does when that service cannot answer, and rules may read them (e.g. refuse an
# LLM route to an agent without a token limit).
rate_limits := [l |
	some l in as_array(object.get(input_object, "rate_limits", []))
	is_object(l)
]

as_array(x) := x if {
	is_array(x)
} else := []

# A request under any fail-closed limit goes through the sidecar's fail-closed stage: refused (503)
# while the rate-limit service cannot answer. authz-server marks it too, whatever the policy says;
# saying it here keeps the decision self-describing (and the same in `opa eval`).
rate_limit_fail_closed if {
	some l in rate_limits
	l.failure_mode == "closed"
}

rate_limit_metadata := {"rate_limit_fail_closed": "true"} if {
	rate_limit_fail_closed
} else := {}
