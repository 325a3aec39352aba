#!/usr/bin/env bash
# cert-manager's controller, webhook and cainjector images, built from the Go module
# github.com/cert-manager/cert-manager at CERT_MANAGER_VERSION (images/versions.env), tagged as the
# upstream images the release's chart names, so a pulled image and a built one are interchangeable:
#   quay.io/jetstack/cert-manager-{controller,webhook,cainjector}:$CERT_MANAGER_VERSION
# The mains are this project's (images/cert-manager: upstream keeps its own in cmd/* modules that the
# Go module proxy does not serve; docs/addons.md, "cert-manager"). Static binaries, FROM scratch.
# Cached: the binaries under $BIN_CACHE keyed by version and a hash of images/cert-manager; each
# image by its tag plus a label holding the hash of what went into it. An image of that tag without
# the label (pulled from quay.io) is kept. HARNESS_IMAGE_SOURCE=pull builds nothing (the add-on
# pulls the upstream images). Prints the image names on stdout.
# Usage: images/build-cert-manager.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need docker "install Docker"
[ -n "${CERT_MANAGER_VERSION:-}" ] || die "CERT_MANAGER_VERSION is not set in images/versions.env"

components=(controller webhook cainjector)
tags=()
for c in "${components[@]}"; do tags+=("quay.io/jetstack/cert-manager-$c:$CERT_MANAGER_VERSION"); done

if [ "${HARNESS_IMAGE_SOURCE:-auto}" = pull ]; then
  echo "    cert-manager: image source is pull; the add-on pulls ${tags[*]}" >&2
  exit 0
fi

# present: every tag exists and is either ours at this content or upstream's (no harness label).
ours() { docker image inspect -f '{{index .Config.Labels "io.helm-e2e-harness.content"}}' "$1" 2>/dev/null || true; }
pulled=1
for t in "${tags[@]}"; do
  if ! docker image inspect "$t" >/dev/null 2>&1 || [ -n "$(ours "$t")" ]; then pulled=0; fi
done
if [ $pulled = 1 ]; then
  echo "    cert-manager: upstream images present (pulled), kept" >&2
  printf '%s\n' "${tags[@]}"
  exit 0
fi

need go "install Go 1.25 or newer (cert-manager $CERT_MANAGER_VERSION's go.mod says go 1.25.0)"
mod=$IMAGES_DIR/cert-manager
grep -q "github.com/cert-manager/cert-manager $CERT_MANAGER_VERSION\$" "$mod/go.mod" \
  || die "images/cert-manager/go.mod does not require cert-manager $CERT_MANAGER_VERSION; update it (go get, go mod tidy) when changing CERT_MANAGER_VERSION"
key=$(cd "$mod" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | LC_ALL=C sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-10)
stamp=cert-manager-$CERT_MANAGER_VERSION-$key
out=$BIN_CACHE/$stamp
lock "$stamp"
if ! cached "$stamp"; then
  # pkg/util.AppVersion is what the binaries log and send in their User-Agent (upstream's
  # make/00_mod.mk sets it the same way); the proxy serves no commit for the tag.
  ldflags="$GO_LDFLAGS_COMMON -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$CERT_MANAGER_VERSION"
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  # nice: a long compile on a 2-core machine; one `go build` for the three shares the compiled packages.
  step go-build-cert-manager sh -c "cd '$mod' && CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags '$ldflags' \
    -o '$out.tmp/' ./cmd/controller ./cmd/webhook ./cmd/cainjector"
  for c in "${components[@]}"; do
    help=$("$out.tmp/$c" --help 2>&1) || die "the built cert-manager $c does not run: ${help%%$'\n'*}"
    [[ "$help" == *"--leader-election-namespace"* || "$c" == webhook ]] \
      || die "the built cert-manager $c does not take the chart's flags"
  done
  rm -rf "$out"; mv "$out.tmp" "$out"
  mark_built "$stamp"
fi

for c in "${components[@]}"; do
  tag=quay.io/jetstack/cert-manager-$c:$CERT_MANAGER_VERSION
  ctx_hash=$(sha256sum "$out/$c" | cut -c1-16)
  if [ "$(ours "$tag")" != "$ctx_hash" ]; then
    ctx=$(mktemp -d)
    cp "$out/$c" "$ctx/$c"
    # No CA bundle: the CA and self-signed issuers need none; ACME or Vault over public TLS would.
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY $c /app/cmd/$c/$c
LABEL org.opencontainers.image.title="cert-manager-$c" org.opencontainers.image.version="$CERT_MANAGER_VERSION" \\
      org.opencontainers.image.source="https://github.com/cert-manager/cert-manager" \\
      org.opencontainers.image.description="built by helm-e2e-harness from the Go module github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" \\
      io.helm-e2e-harness.content="$ctx_hash"
USER 1000:1000
ENTRYPOINT ["/app/cmd/$c/$c"]
DOCKERFILE
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    step "docker-build-cert-manager-$c" nice -n 19 docker build -t "$tag.building" "$ctx"
    docker tag "$tag.building" "$tag" && docker rmi "$tag.building" >/dev/null
    [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
    rm -rf "$ctx"
  fi
  echo "    $tag: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}')" >&2
  echo "$tag"
done
