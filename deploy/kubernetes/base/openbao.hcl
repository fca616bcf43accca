# OpenBao in the cluster: integrated storage (raft) on the pod's volume, TLS listener (extproc-server
# logs in with TLS cert auth, which needs TLS). Initialised and unsealed once with
# `warden init openbao` (deploy/kubernetes/README.md); production unseals with a KMS ("seal" stanza).
ui = false
log_level = "info"
disable_mlock = true

api_addr = "https://warden-openbao.warden-system.svc:8200"
cluster_addr = "https://warden-openbao-0.warden-openbao-internal.warden-system.svc:8201"

storage "raft" {
  path = "/openbao/data"
  node_id = "openbao-0"
}

listener "tcp" {
  address = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  tls_cert_file = "/openbao/tls/tls.crt"
  tls_key_file = "/openbao/tls/tls.key"
  tls_min_version = "tls12"
}
