#!/usr/bin/env bash
# Build harness/static-site:<version> for each version given (default: 1.0.0 1.1.0): the image of
# the static-site chart, a static HTTP server that serves site/<version>.html and nothing else.
#
# Built like the demo service (../service/build-image.sh): the binary is compiled on the host
# (CGO_ENABLED=0, static, standard library only, so no module download) and copied into a FROM
# scratch image. Cache: an image is skipped when its label matches a hash of the sources (Go files
# and pages), the Go version and this script. A failed build or smoke test never leaves a tag: the
# image is tagged only after `static-server -version` ran inside it as uid 65532 on a read-only
# root file system, and a stale tag for other sources is removed before rebuilding.
# Builds run under `nice -n 19`: the machines that build this are shared.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=${IMAGE_REPOSITORY:-harness/static-site}
label=io.helm-e2e-harness.source-hash
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.0.0 1.1.0)

command -v go >/dev/null || { echo "error: go is not installed" >&2; exit 1; }
command -v docker >/dev/null || { echo "error: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "error: no Docker engine answers (docker info failed)" >&2; exit 1; }

t0=$(date +%s)
say() { echo "==> [$(( $(date +%s) - t0 ))s] $*"; }

# Hash of everything that ends up in the image: non-test Go sources, the pages, go.mod,
# Dockerfile, this script and the Go toolchain version.
source_hash() {
  (cd "$here" && {
    go version
    for f in $(ls go.mod Dockerfile build-image.sh *.go site/*.html | grep -v '_test\.go$' | sort); do
      echo "== $f"; cat "$f"
    done
  } | sha256sum | cut -c1-32)
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hash=$(source_hash)

for v in "${versions[@]}"; do
  tag="$repo:$v"
  have=$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$tag" 2>/dev/null || true)
  if [ "$have" = "$hash-$v" ]; then
    say "$tag is up to date (sources $hash); skipping"
    continue
  fi
  if [ -n "$have" ]; then
    say "$tag was built from other sources; removing the stale tag before rebuilding"
    docker image rm "$tag" >/dev/null
  fi

  say "$tag: compiling the static binary"
  mkdir -p "$work/$v"
  cp "$here/Dockerfile" "$work/$v/"
  [ -f "$here/site/$v.html" ] || { echo "error: no page site/$v.html for version $v" >&2; exit 1; }
  (cd "$here" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false nice -n 19 go build -trimpath \
    -ldflags "-s -w -X main.version=$v" -o "$work/$v/static-server" .)

  say "$tag: docker build (FROM scratch)"
  # --iidfile: the image gets a tag only below, after the smoke test passed.
  # The classic builder: enough for FROM scratch, and the buildx plugin may be absent.
  if ! DOCKER_BUILDKIT=0 nice -n 19 docker build -q --iidfile "$work/$v/iid" \
    --label "$label=$hash-$v" --label "org.opencontainers.image.version=$v" \
    --label "org.opencontainers.image.title=static-site" "$work/$v" >"$work/$v/build.log" 2>&1; then
    echo "error: docker build of $tag failed:" >&2
    cat "$work/$v/build.log" >&2
    exit 1
  fi
  iid=$(cat "$work/$v/iid")

  say "$tag: smoke test (uid 65532, read-only root fs, no network)"
  got=$(docker run --rm --read-only --network none --cap-drop ALL "$iid" -version)
  if [ "$got" != "$v" ]; then
    docker image rm "$iid" >/dev/null 2>&1 || true
    echo "error: the image reports version '$got', want '$v'; not tagged" >&2
    exit 1
  fi
  docker tag "$iid" "$tag"
  size=$(docker image inspect -f '{{ .Size }}' "$tag")
  say "$tag built: $iid, $(( size / 1024 )) KiB"
done
