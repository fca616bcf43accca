package warden.authz

# Stage 3 (403): Know Your Agent. The authz-server verified the attestation's signature; the
# policy checks its state and lifetime (all times are integer nanoseconds, like input.now_ns).

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
}

kya_present if {
	non_empty_string(kya.status)
	kya.status != "none"
}

kya_unexpired if {
	is_number(kya.expires_at)
	kya.expires_at > now_ns
}
