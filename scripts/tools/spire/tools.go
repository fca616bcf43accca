//go:build tools

// Package tools pins the SPIRE release whose server and agent scripts/setup builds.
package tools

import (
	_ "github.com/spiffe/spire/cmd/spire-agent"
	_ "github.com/spiffe/spire/cmd/spire-server"
)
