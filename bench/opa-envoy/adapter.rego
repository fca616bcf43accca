# The benchmark's reference: opa-envoy-plugin evaluating Warden's own policy (policies/warden, the
# same Rego and data.json authz-server runs as WebAssembly) natively in Go.
#
# opa-envoy-plugin hands the policy its own input (the CheckRequest as a map, plus parsed_body,
# parsed_path, parsed_query) and asks for `envoy/authz/allow`. This file builds the input
# authz-server builds in TypeScript (authz-server/src/request-facts.ts, identity.ts,
# destination.ts, policy-input.ts) from that, looks the agent up in the registry snapshot given
# as data (`data.bench_registry.by_spiffe_id`, an object keyed by SPIFFE ID, the same O(1) lookup
# as authz-server's in-memory index), calls `data.warden.authz.decision`, and answers in
# opa-envoy-plugin's object form, as authz-server answers Envoy: headers and dynamic metadata on
# an allow, the status and the JSON error body on a denial.
package envoy.authz

http := object.get(object.get(input.attributes, "request", {}), "http", {})

principal := object.get(object.get(input.attributes, "source", {}), "principal", "")

route := object.get(input.attributes, "contextExtensions", {})

# --- request facts (request-facts.ts) -----------------------------------------------------------

credential_headers := {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"}

delegation_header := "x-warden-delegation"

raw_headers := {lower(name): value |
	some name, value in object.get(http, "headers", {})
	not startswith(name, ":")
}

headers := {name: redact(name, value) | some name, value in raw_headers}

redact(name, value) := "[REDACTED]" if {
	sensitive(name)
} else := value

sensitive(name) if name in credential_headers

sensitive(name) if name == delegation_header

path_prefix := object.get(route, "path_prefix", "")

decoded_path := concat("/", ["", concat("/", input.parsed_path)])

upstream_path := concat("", ["/", trim_left(substring(decoded_path, count(path_prefix), -1), "/")]) if {
	path_prefix != ""
	startswith(decoded_path, path_prefix)
} else := decoded_path

query := {name: value |
	some name, values in input.parsed_query
	value := single_or_list(values)
}

single_or_list(values) := values[0] if count(values) == 1

else := values

content_type := lower(trim_space(split(object.get(raw_headers, "content-type", ""), ";")[0]))

body := input.parsed_body if {
	content_type == "application/json"
} else := null

# --- identity (identity.ts) and the registry ----------------------------------------------------

spiffe_match := regex.find_all_string_submatch_n(`^spiffe://([a-z0-9._-]+)(/[A-Za-z0-9._\-/]*)?$`, principal, 1)

source := {"spiffe_id": principal, "trust_domain": spiffe_match[0][1], "verified": true} if {
	count(spiffe_match) == 1
} else := {"spiffe_id": null, "trust_domain": null, "verified": false}

known := data.bench_registry.by_spiffe_id[principal]

agent := known.agent if known

else := null

no_kya := {
	"status": "none", "level": null, "verified_capabilities": [],
	"attestation_id": null, "issued_at": null, "expires_at": null,
}

kya := known.kya if known

else := no_kya

# With a registry snapshot file (no database, so no delegation revocation feed) authz-server
# refuses every delegation token: present, not valid. The benchmark runs it that way.
delegation := {
	"present": true, "valid": false, "error": "not_accepted",
	"id": null, "user": null, "scopes": [], "expires_at": null,
} if {
	raw_headers[delegation_header]
} else := {
	"present": false, "valid": false, "error": null,
	"id": null, "user": null, "scopes": [], "expires_at": null,
}

# --- destination (destination.ts) ---------------------------------------------------------------

kinds := {"llm", "saas", "tool", "mcp"}

destination_kind := k if {
	k := object.get(route, "kind", "")
	k in kinds
} else := ""

destination := {"service": object.get(route, "service", ""), "kind": destination_kind}

body_fields := body if is_object(body)

else := {}

google_model := regex.find_all_string_submatch_n(`/models/([^/:]+):(stream)?[Gg]enerateContent`, upstream_path, 1)

azure_deployment := regex.find_all_string_submatch_n(`/deployments/([^/]+)/`, upstream_path, 1)

body_model := m if {
	m := body_fields.model
	is_string(m)
} else := null

llm_model := google_model[0][1] if count(google_model) == 1

else := azure_deployment[0][1] if {
	body_model == null
	count(azure_deployment) == 1
} else := body_model

llm_stream := google_model[0][2] == "stream" if count(google_model) == 1

else := object.get(body_fields, "stream", false) == true

llm := {"provider": destination.service, "model": llm_model, "stream": llm_stream} if {
	destination_kind == "llm"
} else := null

mcp_params := p if {
	p := body_fields.params
	is_object(p)
} else := {}

mcp_method := m if {
	m := body_fields.method
	is_string(m)
} else := null

mcp_tool := t if {
	mcp_method == "tools/call"
	t := mcp_params.name
	is_string(t)
} else := null

mcp := {"method": mcp_method, "tool": mcp_tool} if {
	destination_kind == "mcp"
	is_object(body)
} else := {"method": null, "tool": null} if {
	destination_kind == "mcp"
} else := null

# --- the policy input, the decision, the answer -------------------------------------------------

policy_input := {
	"now_ns": time.now_ns(),
	"request": {
		"id": object.get(http, "id", ""),
		"method": upper(object.get(http, "method", "")),
		"scheme": object.get(http, "scheme", ""),
		"host": lower(object.get(http, "host", "")),
		"path": upstream_path,
		"query": query,
		"headers": headers,
		"body": body,
	},
	"source": source,
	"agent": agent,
	"kya": kya,
	"delegation": delegation,
	"destination": destination,
	"llm": llm,
	"mcp": mcp,
}

decision := d if {
	d := data.warden.authz.decision with input as policy_input
}

allow := {
	"allowed": true,
	"headers": decision.headers,
	"request_headers_to_remove": [delegation_header],
	"dynamic_metadata": decision.metadata,
} if {
	decision.allow == true
} else := {
	"allowed": false,
	"http_status": decision.status,
	"headers": {"content-type": "application/json"},
	"body": json.marshal({"error": {"code": decision.reason, "message": object.get(decision.metadata, "message", decision.reason)}}),
	"dynamic_metadata": {"reason": decision.reason},
}
