#!/usr/bin/env bash
# PRODUCTION EXAMPLE — not exercised by Warden's tests.
# Registration entries for Kubernetes: one node alias for every agent of the cluster, then Warden's
# components and each agent / MCP server by namespace + service account (add k8s:pod-image-id or
# labels to pin the workload tighter). `warden spire register` builds the same entries.
set -euo pipefail
TD="warden.example.com"
SOCK="/run/spire/server/private/api.sock"
NODE="spiffe://$TD/node/k8s/warden-prod"

spire-server entry create -socketPath "$SOCK" -node -spiffeID "$NODE" \
  -selector k8s_psat:cluster:warden-prod

for component in envoy authz extproc control-plane; do
  spire-server entry create -socketPath "$SOCK" -parentID "$NODE" \
    -spiffeID "spiffe://$TD/warden/$component" \
    -selector k8s:ns:warden -selector "k8s:sa:warden-$component"
done

# An agent and an MCP server (normally through `warden spire register --agent ... --parent $NODE`).
spire-server entry create -socketPath "$SOCK" -parentID "$NODE" \
  -spiffeID "spiffe://$TD/agent/research-bot" \
  -selector k8s:ns:agents -selector k8s:sa:research-bot
spire-server entry create -socketPath "$SOCK" -parentID "$NODE" \
  -spiffeID "spiffe://$TD/mcp/github" \
  -selector k8s:ns:mcp -selector k8s:sa:github-mcp

# An MCP server behind its own inbound sidecar (docs: warden up --inbound-mcp): the server's SVID goes
# to the sidecar's Envoy container only, never to the MCP server's own container in the same pod
# (it listens on loopback and needs no identity); the sidecar's authz-server and extproc-server get
# Warden's component IDs, also pinned to their containers. Agents' outbound sidecars
# (spiffe://$TD/warden/envoy) are the only peers whose x-forwarded-client-cert the sidecar believes.
spire-server entry create -socketPath "$SOCK" -parentID "$NODE" \
  -spiffeID "spiffe://$TD/mcp/files" \
  -selector k8s:ns:mcp -selector k8s:sa:files-mcp -selector k8s:container-name:warden-envoy
for component in authz extproc; do
  spire-server entry create -socketPath "$SOCK" -parentID "$NODE" \
    -spiffeID "spiffe://$TD/warden/$component" \
    -selector k8s:ns:mcp -selector k8s:sa:files-mcp -selector "k8s:container-name:warden-$component"
done
