#!/usr/bin/env bash
# harness/registry:$REGISTRY_VERSION: the CNCF distribution registry (cmd/registry of the Go module
# github.com/distribution/distribution/v3, no replace directives, so `go install module@version`
# builds it as published), static (CGO_ENABLED=0), FROM scratch. harness/env/registry.py runs it as
# a container on the kind network for tests of the pull path (docs/cluster.md).
# Cached: the binary under $BIN_CACHE keyed by version, the image by its tag plus a label holding the
# binary's hash. Prints the image name on stdout.
# Usage: images/build-registry.sh
source "$(dirname "$0")/lib.sh"
need go "install Go 1.25 or newer"
need docker "install Docker"
pkg=github.com/distribution/distribution/v3
out=$BIN_CACHE/registry-$REGISTRY_VERSION stamp=registry-$REGISTRY_VERSION
tag=$REGISTRY_IMAGE
[ "$tag" = "harness/registry:$REGISTRY_VERSION" ] || die "REGISTRY_IMAGE ($tag) must be harness/registry:$REGISTRY_VERSION in versions.env"
lock "$stamp"
if ! cached "$stamp"; then
  # upstream's Makefile stamps these three (version/version.go); revision is not served by the proxy
  ldflags="$GO_LDFLAGS_COMMON -X $pkg/version.version=$REGISTRY_VERSION -X $pkg/version.mainpkg=$pkg"
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  # nice -n 19: a long compile on a 2-core machine shared with cluster runs that measure availability
  step go-build-registry env CGO_ENABLED=0 GOBIN="$out.tmp" nice -n 19 go install -trimpath -ldflags "$ldflags" \
    "$pkg/cmd/registry@$REGISTRY_VERSION"
  got=$("$out.tmp/registry" --version) || die "the built registry does not run"
  [[ "$got" == *" $REGISTRY_VERSION"* ]] || die "the built registry does not report version $REGISTRY_VERSION: $got"
  rm -rf "$out"; mv "$out.tmp" "$out"
  mark_built "$stamp"
fi
ctx_hash=$(sha256sum "$out/registry" | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "io.helm-e2e-harness.content"}}' "$tag" 2>/dev/null)" != "$ctx_hash" ]; then
  ctx=$(mktemp -d)
  cp "$out/registry" "$ctx/registry"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY registry /bin/registry
LABEL org.opencontainers.image.title="registry" org.opencontainers.image.version="$REGISTRY_VERSION" \\
      org.opencontainers.image.source="https://github.com/distribution/distribution" \\
      io.helm-e2e-harness.content="$ctx_hash"
USER 65532:65532
EXPOSE 5000
ENTRYPOINT ["/bin/registry"]
CMD ["serve", "/etc/distribution/config.yml"]
DOCKERFILE
  old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  step docker-build-registry nice -n 19 docker build -t "$tag.building" "$ctx"
  docker tag "$tag.building" "$tag" && docker rmi "$tag.building" >/dev/null
  [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
  rm -rf "$ctx"
fi
echo "    $tag: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}')" >&2
echo "$tag"
