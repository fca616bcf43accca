//go:build tools

// Package tools pins the Jaeger release (v2, all-in-one on the OpenTelemetry collector) that
// scripts/setup builds for the tracing tests.
package tools

import (
	_ "github.com/jaegertracing/jaeger/cmd/jaeger"
)
