//go:build tools

// Package aigw pins Envoy AI Gateway's extproc for `make bench-peers`: a
// module of its own, so its go.sum pins every dependency and the root
// module's `go test ./...` never builds it.
package aigw

import _ "github.com/envoyproxy/ai-gateway/cmd/extproc"
