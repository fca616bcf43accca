# Control plane: signs KYA attestations with the organisation key, delegations and access tokens
# with the token key, and publishes their public keys. It can neither export, rotate nor delete a
# private key, nor use any other key.
path "transit/sign/warden-signing" {
  capabilities = ["update"]
}

path "transit/keys/warden-signing" {
  capabilities = ["read"]
}

# Delegations and access tokens (docs/delegations.md): signs with the token key and reads its public
# versions (the JWKS, key rotation). It cannot rotate, export or delete the key.
path "transit/sign/warden-tokens" {
  capabilities = ["update"]
}

path "transit/keys/warden-tokens" {
  capabilities = ["read"]
}

# Account connections (docs/oauth-connections.md): reads the providers' OAuth clients, seals users'
# tokens (and the PKCE verifier) with the tenant's transit key (creating that key on first use, hence
# `create`), opens them again only to revoke at the provider on disconnect, writes the sealed tokens
# and destroys them on disconnect. It cannot read LLM keys, rotate or export a tenant key.
path "warden/data/providers/*" {
  capabilities = ["read"]
}

path "warden/data/oauth/*" {
  capabilities = ["create", "update", "read"]
}

path "warden/metadata/oauth/*" {
  capabilities = ["delete"]
}

path "transit/encrypt/tenant-*" {
  capabilities = ["create", "update"]
}

path "transit/decrypt/tenant-*" {
  capabilities = ["update"]
}

# Tenants (docs/tenancy.md): creates each tenant's signing key (`warden-tenant-<id>-signing`) and
# sealing key (`tenant-<id>`) when the tenant is created, reading first whether they exist. Transit
# treats a key creation as `update` (it has no existence check), and the glob reaches the keys'
# `config` and `rotate` too: it could rotate a tenant key or change its settings, never delete one
# (no `delete`) nor read an exported one (no access to `transit/export`).
path "transit/keys/warden-tenant-*" {
  capabilities = ["update", "read"]
}

path "transit/keys/tenant-*" {
  capabilities = ["update", "read"]
}
