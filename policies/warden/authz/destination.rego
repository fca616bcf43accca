package warden.authz

# Stage 4 (403): the destination must be a known service (or a kind with defaults, such as MCP
# servers registered at run time), and its kind must agree with the catalogue.

service_config := s if {
	s := config.services[service_name]
	is_object(s)
} else := s if {
	s := config.kind_defaults[service_kind]
	is_object(s)
}

destination_denial := "destination_unknown" if {
	not service_config
} else := "destination_unknown" if {
	# An MCP server must be registered and active (authz-server lists only those in mcp_servers).
	service_kind == "mcp"
	not mcp_server_registered
} else := "destination_kind_mismatch" if {
	not service_config.kind == service_kind
}

# read for safe methods, write for everything else (data: method_access).
access := object.get(object.get(config, "method_access", {}), method, "write")

# Stage 5 (403): the capability the request needs must be among the attestation's verified
# capabilities. The capability comes from a template in data (see policies/README.md).

capability_template := t if {
	service_kind == "mcp"
	t := config.capabilities.mcp_methods[mcp_method]
	is_string(t)
} else := t if {
	t := service_config.capability
	is_string(t)
} else := t if {
	t := config.capabilities.kinds[service_kind]
	is_string(t)
}

mcp_tool := mcp_name if {
	mcp_method == "tools/call"
	mcp_name != ""
}

filled_template := replace(replace(capability_template, "{service}", service_name), "{access}", access)

# A template that still holds a placeholder (an MCP tools/call without a tool name) yields no
# capability, and the request is denied as capability_unknown.
required_capability := c if {
	not contains(filled_template, "{tool}")
	c := filled_template
	not contains(c, "{")
} else := c if {
	c := replace(filled_template, "{tool}", mcp_tool)
	not contains(c, "{")
}

capability_denial := "capability_unknown" if {
	not required_capability
} else := "capability_not_attested" if {
	not capability_attested
}

capability_attested if {
	some pattern in object.get(kya, "verified_capabilities", [])
	wildcard_match(pattern, required_capability)
}
