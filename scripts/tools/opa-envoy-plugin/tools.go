//go:build tools

// Package tools pins the opa-envoy-plugin release scripts/setup --bench builds (the benchmark's
// reference ext_authz server).
package tools

import (
	_ "github.com/open-policy-agent/opa-envoy-plugin/cmd/opa-envoy-plugin"
)
