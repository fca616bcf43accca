# extproc-server, LLM key injection (issue 7): read the tenants' LLM API keys (KV v2
# `warden/llm/<tenant>/<provider>`), nothing else. No list (it never needs to know which tenants
# exist), no metadata (every data read returns the version the key cache compares), no writes.
path "warden/data/llm/*" {
  capabilities = ["read"]
}
