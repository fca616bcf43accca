# authz-server: reads the public half of the signing key to verify attestations and delegation
# tokens (it normally uses the control plane's JWKS; this allows it to check against Vault directly).
path "transit/keys/warden-signing" {
  capabilities = ["read"]
}
