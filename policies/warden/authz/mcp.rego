package warden.authz

# MCP servers: per-server tool rules (lib/src/mcp/tool-rules.ts), registered at run time. authz-server
# puts every active MCP server's rules into the policy data as data.warden.mcp_servers[<name>] (a
# stored document that does not validate becomes "deny everything"), and the external SaaS services
# its registration lists as data.warden.mcp_external_services[<name>].
#
# input.mcp (authz-server/src/mcp-facts.ts): {kind: request|notification|response|batch|none,
# method, name, arguments_digest, protocol_version, upstream: server|warden}. A batch is decided
# once as a whole (server-level access) and once per request message (kind "request").
#
# tools/call, prompts/get and resources/read are decided by the rule for the name (tools, prompts,
# resources): an exact key beats a pattern ("prefix*"), a longer prefix beats a shorter one; no rule:
# the server's `default` ("deny" unless set). Every other method (initialize, ping, notifications,
# */list, responses, GET and DELETE) needs only what any use of the server needs: registration, KYA,
# the capability mcp:<server>, the tiers.

mcp_servers := s if {
	s := data.warden.mcp_servers
	is_object(s)
} else := {}

mcp_server_rules := r if {
	r := mcp_servers[service_name]
	is_object(r)
}

mcp_server_registered if mcp_server_rules

mcp_method := string_or_empty(object.get(mcp, "method", ""))

# `name` (tool, prompt or resource URI); `tool` is what inputs before tool rules carried.
mcp_name := n if {
	n := mcp.name
	non_empty_string(n)
} else := n if {
	mcp_method == "tools/call"
	n := mcp.tool
	non_empty_string(n)
} else := ""

mcp_item_kinds := {"tools/call": "tools", "prompts/get": "prompts", "resources/read": "resources"}

mcp_list_kinds := {"tools/list": "tools", "prompts/list": "prompts", "resources/list": "resources"}

mcp_item_kind := mcp_item_kinds[mcp_method]

mcp_default_allows if object.get(mcp_server_rules, "default", "deny") == "allow"

# The key of the rule that decides `name` among `rules`: exact, else the longest matching prefix.
mcp_deciding_key(rules, name) := name if {
	is_object(rules[name])
} else := key if {
	candidates := [k |
		some k, _ in rules
		endswith(k, "*")
		startswith(name, trim_suffix(k, "*"))
	]
	count(candidates) > 0
	longest := max([count(k) | some k in candidates])
	key := [k | some k in candidates; count(k) == longest][0]
}

mcp_kind_rules(kind) := as_object(object.get(mcp_server_rules, kind, {}))

mcp_rule_key := mcp_deciding_key(mcp_kind_rules(mcp_item_kind), mcp_name)

mcp_rule := mcp_kind_rules(mcp_item_kind)[mcp_rule_key]

mcp_rule_key_or_null := k if {
	k := mcp_rule_key
} else := null

# Who a rule admits: agents (name, SPIFFE ID or "*") or teams; neither given, any registered agent.
mcp_admitted(rule) if {
	not mcp_rule_has(rule, "agents")
	not mcp_rule_has(rule, "teams")
}

# object.keys is not among the builtins opa-wasm provides.
mcp_rule_has(rule, key) if {
	some k, _ in rule
	k == key
}

mcp_admitted(rule) if {
	some entry in object.get(rule, "agents", [])
	entry in {"*", object.get(agent, "name", null), agent_spiffe_id}
}

mcp_admitted(rule) if {
	agent_team != ""
	agent_team in object.get(rule, "teams", [])
}

mcp_kya_sufficient(rule) if not is_number(object.get(rule, "min_kya_level", null))

mcp_kya_sufficient(rule) if {
	is_number(kya.level)
	kya.level >= rule.min_kya_level
}

mcp_needed_scopes(rule) := s if {
	s := rule.scopes
	is_array(s)
} else := []

# Scopes of the caller's delegation (a presented one that did not verify was refused before).
mcp_missing_scopes(rule) := [s | some s in mcp_needed_scopes(rule); not s in delegated_scopes]

mcp_rule_refusal(rule) := "mcp_denied" if {
	rule.deny == true
} else := "mcp_agent_not_admitted" if {
	not mcp_admitted(rule)
} else := "mcp_kya_level_insufficient" if {
	not mcp_kya_sufficient(rule)
} else := "delegation_scope_insufficient" if {
	count(mcp_missing_scopes(rule)) > 0
}

mcp_rule_admits(rule) if not mcp_rule_refusal(rule)

mcp_denial := "mcp_name_missing" if {
	service_kind == "mcp"
	mcp_item_kind
	mcp_name == ""
} else := "mcp_denied" if {
	service_kind == "mcp"
	mcp_item_kind
	not mcp_rule_key
	not mcp_default_allows
} else := r if {
	service_kind == "mcp"
	r := mcp_rule_refusal(mcp_rule)
}

# The last stage: a call every other stage allows, to a tool marked `approval: "required"`, waits
# for a person. authz-server asks the approval gate (lib/src/mcp/approval.ts) what to answer.
approval_denial := "approval_required" if {
	service_kind == "mcp"
	mcp_rule.approval == "required"
	not mcp_approved
}

# authz-server sets approval_id (never the agent) once the approval gate consumed an approval bound
# to exactly this call; every other stage is still decided anew.
mcp_approved if non_empty_string(mcp.approval_id)

mcp_denial_details(reason) := {
	"mcp_kind": mcp_item_kind,
	"name": mcp_name,
	"mcp_rule": mcp_rule_key_or_null,
} if {
	reason in {"mcp_denied", "mcp_agent_not_admitted", "approval_required"}
} else := {
	"required_kya_level": mcp_rule.min_kya_level,
	"kya_level": object.get(kya, "level", null),
	"mcp_kind": mcp_item_kind,
	"name": mcp_name,
	"mcp_rule": mcp_rule_key,
} if {
	reason == "mcp_kya_level_insufficient"
} else := {
	"required_scopes": mcp_needed_scopes(mcp_rule),
	"missing_scopes": mcp_missing_scopes(mcp_rule),
	"mcp_kind": mcp_item_kind,
	"name": mcp_name,
	"mcp_rule": mcp_rule_key,
} if {
	reason == "delegation_scope_insufficient"
	service_kind == "mcp"
}

mcp_approval_details := {
	"server": service_name,
	"method": mcp_method,
	"name": mcp_name,
	"arguments_digest": object.get(mcp, "arguments_digest", null),
}

# Allowed decisions: what extproc-server needs (lib/src/handoff, preamble "decision metadata").

mcp_allowed_metadata := {} if {
	service_kind != "mcp"
} else := object.union(
	{
		"mcp": mcp_call_metadata,
		"mcp_upstream_credentials": mcp_upstream_credentials,
	},
	mcp_visibility_metadata,
)

mcp_call_metadata := {
	"server": service_name,
	"method": mcp_method,
	"name": mcp_name_or_null,
	"arguments_digest": object.get(mcp, "arguments_digest", null),
	"protocol_version": object.get(mcp, "protocol_version", null),
	"audit_arguments": mcp_audit_arguments,
} if {
	mcp.kind == "request"
} else := null

mcp_name_or_null := mcp_name if {
	mcp_name != ""
} else := null

mcp_audit_arguments if {
	mcp_rule.audit_arguments == true
} else := false

# The delegating user's OAuth token for the external service the MCP server calls, injected by
# extproc-server, but only when the upstream is the MCP server itself: a Warden inbound sidecar
# (route context extension mcp_upstream: "warden") injects on its own.
mcp_external_services := s if {
	s := data.warden.mcp_external_services[service_name]
	is_array(s)
} else := []

mcp_upstream_credentials := {"service": mcp_external_services[0]} if {
	not object.get(mcp, "upstream", "server") == "warden"
	count(mcp_external_services) > 0
	is_string(mcp_external_services[0])
} else := null

# List answers: what the caller may see, from the same rules that decide the calls (a rule is visible
# when its call would pass or wait for approval), filtered by extproc-server with
# lib/src/mcp/visibility.ts isVisible.
mcp_visibility_metadata := {"mcp_visibility": {
	"tools": mcp_kind_visibility("tools"),
	"prompts": mcp_kind_visibility("prompts"),
	"resources": mcp_kind_visibility("resources"),
	"capabilities": mcp_tool_capability_patterns,
}} if {
	mcp_list_kinds[mcp_method]
} else := {}

# Rules in key order, so the metadata is the same from the Rego and the WebAssembly.
mcp_kind_visibility(kind) := {
	"rules": [{"pattern": key, "visible": mcp_rule_visible(mcp_kind_rules(kind)[key])} |
		some key in sort([k | some k, _ in mcp_kind_rules(kind)])
	],
	"default_visible": mcp_default_visible,
}

mcp_rule_visible(rule) if {
	mcp_rule_admits(rule)
} else := false

mcp_default_visible if {
	mcp_default_allows
} else := false

# tools/call needs the capability the template gives for the tool (shipped: mcp:{tool}); as tool-name
# patterns: the part of each verified capability after the template's prefix ("mcp:web*" → "web*",
# "mcp:*" or "*" → "*"). A template without {tool} needs one capability for every tool.
mcp_tool_template := t if {
	t := config.capabilities.mcp_methods["tools/call"]
	is_string(t)
} else := t if {
	t := service_config.capability
	is_string(t)
} else := t if {
	t := config.capabilities.kinds.mcp
	is_string(t)
} else := ""

mcp_tool_template_filled := replace(replace(mcp_tool_template, "{service}", service_name), "{access}", access)

mcp_tool_capability_prefix := p if {
	parts := split(mcp_tool_template_filled, "{tool}")
	count(parts) == 2
	parts[1] == ""
	p := parts[0]
}

mcp_tool_capability_patterns := sort({p |
	some c in object.get(kya, "verified_capabilities", [])
	p := mcp_capability_as_tool_pattern(c, mcp_tool_capability_prefix)
}) if {
	mcp_tool_capability_prefix
} else := ["*"] if {
	not contains(mcp_tool_template_filled, "{")
	mcp_tool_template_filled != ""
	some c in object.get(kya, "verified_capabilities", [])
	wildcard_match(c, mcp_tool_template_filled)
} else := []

mcp_capability_as_tool_pattern(c, prefix) := substring(c, count(prefix), -1) if {
	is_string(c)
	startswith(c, prefix)
} else := "*" if {
	is_string(c)
	endswith(c, "*")
	startswith(prefix, trim_suffix(c, "*"))
}
