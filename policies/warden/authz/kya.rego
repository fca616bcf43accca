package warden.authz

# Stage 3 (403): Know Your Agent. The authz-server verified the attestation's signature; the
# policy checks its state and lifetime (all times are integer nanoseconds, like input.now_ns), and
# the level a destination asks for (data: services.<name>.min_kya_level, 1 basic, 2 standard,
# 3 high; none asked = any approved level).

kya_denial := "kya_missing" if {
	not kya_present
} else := "kya_revoked" if {
	kya.status == "revoked"
} else := "kya_pending" if {
	kya.status == "pending"
} else := "kya_expired" if {
	kya.status == "expired"
} else := "kya_not_approved" if {
	not kya.status == "approved"
} else := "kya_expired" if {
	not kya_unexpired
} else := "kya_level_insufficient" if {
	required_kya_level
	not kya_level_sufficient
}

kya_present if {
	non_empty_string(kya.status)
	kya.status != "none"
}

kya_unexpired if {
	is_number(kya.expires_at)
	kya.expires_at > now_ns
}

# Undefined when the destination asks for no level (or is unknown: the destination stage denies it).
required_kya_level := l if {
	l := service_config.min_kya_level
	is_number(l)
}

kya_level_sufficient if {
	is_number(kya.level)
	kya.level >= required_kya_level
}
