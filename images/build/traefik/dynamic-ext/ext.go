// Package ext stands in for Traefik's dynamic-configuration extension module.
//
// Traefik v3.7's go.mod requires github.com/traefik/traefik/dynamic/ext and replaces it with
// ./pkg/config/dynamic/ext, a nested module of its repository. A nested module is left out of the
// parent module's zip, and the proxy does not serve the path, so a build from the module cache
// cannot see it. The only use in v3.7.12 (and v3.7.13) is pkg/config/dynamic/http_config.go, which embeds
// ext.HTTP in HTTPConfiguration and ext.Router in Router (yaml inline) and reads no field of either:
// they are extension points, empty in the open-source build. Two empty structs give the same
// program. A unit test (tests/unit/test_addons_render.py) checks that nothing else is imported.
package ext

// HTTP is embedded in dynamic.HTTPConfiguration.
type HTTP struct{}

// Router is embedded in dynamic.Router.
type Router struct{}
