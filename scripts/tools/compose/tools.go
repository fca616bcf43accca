//go:build tools

// Package tools pins the Docker Compose release whose CLI plugin (`docker compose`) scripts/docker-up
// builds.
package tools

import (
	_ "github.com/docker/compose/v5/cmd"
)
