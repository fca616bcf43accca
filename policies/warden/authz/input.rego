package warden.authz

# Stage 0: the input itself and the policy data must be usable. Both are produced by our own
# components (authz-server and the bundle build), so a failure here is an internal error (500),
# never something the agent did.

# Only positive helper rules appear under `not`: a builtin whose argument is undefined makes the
# whole negated expression fail rather than succeed, which would let a missing field through.

input_denial := "input_invalid" if not input_usable

input_usable if {
	is_number(input_object.now_ns)
	non_empty_string(request.method)
	is_string(request.path)
}

# The shape of the policy data (tier rules, catalogue, model lists) is validated when the bundle is
# loaded, so a malformed bundle never serves; here only its presence is checked.
data_denial := "policy_data_invalid" if not config_present

config_present if is_object(data.warden.config)
