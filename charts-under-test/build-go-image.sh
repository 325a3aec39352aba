#!/usr/bin/env bash
# Build a FROM scratch image of one static Go binary for each version given: the applications of
# the charts under test (service/build-image.sh, static-server/build-image.sh call this).
#
# Usage: build-go-image.sh SRC_DIR REPO BINARY SMOKE_ARG "HASHED_FILES" [VERSION...]
#   SRC_DIR       the Go main package, with its Dockerfile (which COPYs BINARY)
#   REPO          image repository (tags REPO:<version>; default versions 1.0.0 1.1.0)
#   BINARY        the binary's file name in the build context
#   SMOKE_ARG     the argument that makes the binary print its version and exit
#   HASHED_FILES  globs (relative to SRC_DIR) of what ends up in the image, hashed with the Go
#                 version and both build scripts; test files are left out
#
# The binary is compiled on the host (CGO_ENABLED=0, static) and copied into the image. Cache: an
# image is skipped when its label matches that hash. A failed build or smoke test never leaves a
# tag: the image is tagged only after `BINARY SMOKE_ARG` ran inside it as uid 65532 on a read-only
# root file system and printed the version, and a stale tag for other sources is removed first.
# Builds run under `nice -n 19`: the machines that build this are shared.
set -euo pipefail

[ $# -ge 5 ] || { echo "usage: build-go-image.sh SRC_DIR REPO BINARY SMOKE_ARG HASHED_FILES [VERSION...]" >&2; exit 2; }
here=$(cd "$1" && pwd); repo=$2; binary=$3; smoke=$4; hashed=$5; shift 5
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
label=io.helm-e2e-harness.source-hash
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.0.0 1.1.0)

command -v go >/dev/null || { echo "error: go is not installed" >&2; exit 1; }
command -v docker >/dev/null || { echo "error: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "error: no Docker engine answers (docker info failed)" >&2; exit 1; }

t0=$(date +%s)
say() { echo "==> [$(( $(date +%s) - t0 ))s] $*"; }

source_hash() {
  (cd "$here" && {
    go version
    # shellcheck disable=SC2086 # $hashed is a list of globs, expanded here on purpose
    for f in $(printf '%s\n' $hashed | grep -v '_test\.go$' | sort); do
      echo "== $f"; cat "$f"
    done
    echo "== build-go-image.sh"; cat "$self"
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
  (cd "$here" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false nice -n 19 go build -trimpath \
    -ldflags "-s -w -X main.version=$v" -o "$work/$v/$binary" .)

  say "$tag: docker build (FROM scratch)"
  # --iidfile: the image gets a tag only below, after the smoke test passed.
  # The classic builder: enough for FROM scratch, and the buildx plugin may be absent.
  if ! DOCKER_BUILDKIT=0 nice -n 19 docker build -q --iidfile "$work/$v/iid" \
    --label "$label=$hash-$v" --label "org.opencontainers.image.version=$v" \
    --label "org.opencontainers.image.title=${repo##*/}" "$work/$v" >"$work/$v/build.log" 2>&1; then
    echo "error: docker build of $tag failed:" >&2
    cat "$work/$v/build.log" >&2
    exit 1
  fi
  iid=$(cat "$work/$v/iid")

  say "$tag: smoke test (uid 65532, read-only root fs, no network)"
  got=$(docker run --rm --read-only --network none --cap-drop ALL "$iid" "$smoke")
  if [ "$got" != "$v" ]; then
    docker image rm "$iid" >/dev/null 2>&1 || true
    echo "error: the image reports version '$got', want '$v'; not tagged" >&2
    exit 1
  fi
  docker tag "$iid" "$tag"
  size=$(docker image inspect -f '{{ .Size }}' "$tag")
  say "$tag built: $iid, $(( size / 1024 )) KiB"
done
