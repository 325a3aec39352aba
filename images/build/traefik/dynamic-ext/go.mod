// Stand-in for github.com/traefik/traefik/dynamic/ext, a nested module of Traefik's repository
// (pkg/config/dynamic/ext) that upstream resolves with a relative replace and that neither the
// Go module proxy nor Traefik's module zip contains. See ext.go.
module github.com/traefik/traefik/dynamic/ext

go 1.24.0
