# OpenBao of the compose stack: not dev mode. One node with integrated storage (raft; OpenBao 2.7
# has no file storage any more) in the openbao-data volume, and a TLS listener: extproc-server logs
# in with TLS cert auth, which needs TLS. openbao-init (compose/openbao/init.sh) initialises,
# unseals and configures it at every start. The certificate and key are Docker secrets made by
# compose/init-secrets.sh.
ui = false
log_level = "info"

api_addr = "https://openbao:8200"
cluster_addr = "https://openbao:8201"

storage "raft" {
  path = "/openbao/file"
  node_id = "openbao-1"
}

listener "tcp" {
  address = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  tls_cert_file = "/run/secrets/openbao-tls-cert"
  tls_key_file = "/run/secrets/openbao-tls-key"
  tls_min_version = "tls12"
}
