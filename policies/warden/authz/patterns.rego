package warden.authz

# Wildcards in policy data, kept to what can be checked without compiling a regular expression
# per evaluation (glob.match rebuilds its automaton on every call in WebAssembly, which cost more
# than the rest of the policy together):
#   values (capabilities, models, ...): exact, or a trailing "*" matching any suffix ("mcp:*");
#   paths: "/"-separated segments, each exact or a wildcard as above, and a final "**" matching
#   zero or more further segments ("/orgs/*/members/**").

wildcard_match(pattern, value) if pattern == value

wildcard_match(pattern, value) if {
	is_string(pattern)
	is_string(value)
	endswith(pattern, "*")
	startswith(value, trim_suffix(pattern, "*"))
}

path_matches(pattern, value) if pattern == value

path_matches(pattern, value) if {
	is_string(pattern)
	contains(pattern, "*")
	segments_match(split(pattern, "/"), split(value, "/"))
}

segments_match(patterns, segments) if {
	patterns[count(patterns) - 1] == "**"
	count(segments) >= count(patterns) - 1
	every i, pattern in array.slice(patterns, 0, count(patterns) - 1) {
		wildcard_match(pattern, segments[i])
	}
}

segments_match(patterns, segments) if {
	not patterns[count(patterns) - 1] == "**"
	count(patterns) == count(segments)
	every i, pattern in patterns {
		wildcard_match(pattern, segments[i])
	}
}
