package warden.authz

# Normalised views of the input and the policy data. Every later rule reads these instead of
# `input` directly, so a missing field or a null is an empty object/string here and the rules
# that need it deny instead of silently becoming undefined.

config := c if {
	c := data.warden.config
	is_object(c)
} else := {}

input_object := input if {
	is_object(input)
} else := {}

as_object(x) := x if {
	is_object(x)
} else := {}

non_empty_string(x) if {
	is_string(x)
	x != ""
}

string_or_empty(x) := x if {
	is_string(x)
} else := ""

request := as_object(object.get(input_object, "request", null))

source := as_object(object.get(input_object, "source", null))

agent := as_object(object.get(input_object, "agent", null))

kya := as_object(object.get(input_object, "kya", null))

delegation := as_object(object.get(input_object, "delegation", null))

destination := as_object(object.get(input_object, "destination", null))

llm := as_object(object.get(input_object, "llm", null))

mcp := as_object(object.get(input_object, "mcp", null))

now_ns := input_object.now_ns

method := upper(string_or_empty(object.get(request, "method", "")))

# The path without its query string: tier rules match on the resource, not the parameters.
path := split(string_or_empty(object.get(request, "path", "")), "?")[0]

agent_team := string_or_empty(object.get(agent, "team", ""))

agent_type := string_or_empty(object.get(agent, "type", ""))

agent_tenant := string_or_empty(object.get(agent, "tenant", ""))

agent_spiffe_id := string_or_empty(object.get(agent, "spiffe_id", ""))

service_name := string_or_empty(object.get(destination, "service", ""))

service_kind := string_or_empty(object.get(destination, "kind", ""))

# `model` (an alias resolved) and `requested_model` are defined in models.rego.

delegation_present if object.get(delegation, "present", false) == true
