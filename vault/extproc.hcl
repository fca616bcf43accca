# extproc-server, LLM key injection: read the tenants' LLM API keys (KV v2
# `warden/llm/<tenant>/<provider>`), nothing else. No list (it never needs to know which tenants
# exist), no metadata (every data read returns the version the key cache compares), no writes.
path "warden/data/llm/*" {
  capabilities = ["read"]
}

# SaaS token injection (docs/oauth-connections.md): reads users' sealed tokens and writes
# refreshed ones back (KV v2 check-and-set: `update` on an existing secret, never `create`, so it
# cannot invent a connection), opens and seals them with the tenant's transit key (never creating
# one), and reads the providers' OAuth clients to refresh. No list, no delete, no metadata.
path "warden/data/oauth/*" {
  capabilities = ["read", "update"]
}

path "warden/data/providers/*" {
  capabilities = ["read"]
}

path "transit/encrypt/tenant-*" {
  capabilities = ["update"]
}

path "transit/decrypt/tenant-*" {
  capabilities = ["update"]
}
