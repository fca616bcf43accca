# Control plane: signs KYA attestations with the organisation key and publishes its public keys.
# It can neither export the private key nor use any other key.
path "transit/sign/warden-signing" {
  capabilities = ["update"]
}

path "transit/keys/warden-signing" {
  capabilities = ["read"]
}
