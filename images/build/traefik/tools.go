//go:build tools

// Package tools pins the Traefik command this wrapper module builds. Traefik's own go.mod has
// replace and exclude directives, so `go install github.com/traefik/traefik/v3/cmd/traefik@v3.x`
// refuses it; this module repeats them (go.mod) and `go build`s the upstream main package.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
