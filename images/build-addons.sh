#!/usr/bin/env bash
# Images of the platform add-ons (harness/addons) that a machine without registries cannot pull:
#   harness/traefik:$TRAEFIK_VERSION  Traefik built from its Go module (wrapper module in
#                                     build/traefik repeats upstream's replace/exclude lines, with a
#                                     stand-in for its nested dynamic/ext module), FROM scratch
#   $POSTGRES_IMAGE                   PostgreSQL from Debian's package (images/postgres)
#   quay.io/jetstack/cert-manager-{controller,webhook,cainjector}:$CERT_MANAGER_VERSION
#                                     cert-manager built from its Go module with this project's entry
#                                     points (images/build-cert-manager.sh, images/cert-manager)
# Cached: the Traefik binary under $BIN_CACHE keyed by version and wrapper go.mod, each image by
# its tag plus a label holding the hash of what went into it. Prints the image names on stdout.
# Usage: images/build-addons.sh [traefik|postgres|cert-manager ...]   (default: all three)
source "$(dirname "$0")/lib.sh"
need docker "install Docker"

# ---------------------------------------------------------------- traefik
build_traefik() {
  need go "install Go 1.26 or newer (Traefik $TRAEFIK_VERSION's go.mod says go 1.26.0)"
  local mod=$IMAGES_DIR/build/traefik
  local key; key=$(cat "$mod/go.mod" "$mod/go.sum" "$mod/tools.go" "$mod/dynamic-ext/go.mod" "$mod/dynamic-ext/ext.go" \
    | sha256sum | cut -c1-10)
  local out=$BIN_CACHE/traefik-$TRAEFIK_VERSION-$key stamp=traefik-$TRAEFIK_VERSION-$key
  local tag=harness/traefik:$TRAEFIK_VERSION
  lock "$stamp"
  if ! cached "$stamp"; then
    grep -q "github.com/traefik/traefik/v3 $TRAEFIK_VERSION\$" "$mod/go.mod" \
      || die "images/build/traefik/go.mod does not require traefik $TRAEFIK_VERSION; update it (and its replace/exclude lines) when changing TRAEFIK_VERSION"
    # BuildDate: the module's publication time from the proxy, so the stamp is reproducible.
    local date
    date=$(cd "$mod" && go list -m -f '{{if .Time}}{{.Time.Format "2006-01-02T15:04:05Z07:00"}}{{end}}' "github.com/traefik/traefik/v3")
    local ldflags="$GO_LDFLAGS_COMMON -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION"
    ldflags+=" -X github.com/traefik/traefik/v3/pkg/version.BuildDate=${date:-unknown}"
    rm -rf "$out.tmp"; mkdir -p "$out.tmp"
    # nice: this is a long compile on a 2-core machine; other builds keep their share.
    step "go-build-traefik" sh -c "cd '$mod' && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags '$ldflags' \
      -o '$out.tmp/traefik' github.com/traefik/traefik/v3/cmd/traefik"
    local got; got=$("$out.tmp/traefik" version) || die "the built traefik does not run"
    [[ "$got" =~ Version:\ *${TRAEFIK_VERSION}($'\n'|$) ]] \
      || die "the built traefik does not report version $TRAEFIK_VERSION: ${got%%$'\n'*}"
    rm -rf "$out"; mv "$out.tmp" "$out"
    mark_built "$stamp"
  fi
  local ctx_hash; ctx_hash=$(sha256sum "$out/traefik" | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "io.helm-e2e-harness.content"}}' "$tag" 2>/dev/null)" != "$ctx_hash" ]; then
    local ctx; ctx=$(mktemp -d)
    cp "$out/traefik" "$ctx/traefik"
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY traefik /usr/local/bin/traefik
LABEL org.opencontainers.image.title="traefik" org.opencontainers.image.version="$TRAEFIK_VERSION" \\
      org.opencontainers.image.source="https://github.com/traefik/traefik" \\
      io.helm-e2e-harness.content="$ctx_hash"
USER 65532:65532
EXPOSE 8000 8443 9000
ENTRYPOINT ["/usr/local/bin/traefik"]
DOCKERFILE
    local old; old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    step docker-build-traefik docker build -t "$tag.building" "$ctx"
    docker tag "$tag.building" "$tag" && docker rmi "$tag.building" >/dev/null
    [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
    rm -rf "$ctx"
  fi
  echo "    $tag: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}')" >&2
  echo "$tag"
}

# ---------------------------------------------------------------- postgres
build_postgres() {
  local tag=$POSTGRES_IMAGE
  lock "postgres-image"
  local base; base=$(debian_image postgres "postgresql-$POSTGRES_MAJOR")
  local ctx_hash
  ctx_hash=$( (echo "$base $POSTGRES_MAJOR"; cat "$IMAGES_DIR/postgres/Dockerfile" "$IMAGES_DIR/postgres/docker-entrypoint.sh" \
    "$IMAGES_DIR/postgres/harness-pg") | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "io.helm-e2e-harness.content"}}' "$tag" 2>/dev/null)" != "$ctx_hash" ]; then
    local old; old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    step docker-build-postgres docker build --build-arg "BASE=$base" --build-arg "PG_MAJOR=$POSTGRES_MAJOR" \
      --label "io.helm-e2e-harness.content=$ctx_hash" -t "$tag.building" "$IMAGES_DIR/postgres"
    docker tag "$tag.building" "$tag" && docker rmi "$tag.building" >/dev/null
    # the previous build of this tag is now untagged: drop it rather than leave a dangling image
    [ -z "$old" ] || docker rmi "$old" >/dev/null 2>&1 || true
  fi
  echo "    $tag: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}')" >&2
  echo "$tag"
}

what=("$@"); [ ${#what[@]} -gt 0 ] || what=(traefik postgres cert-manager)
echo "==> add-on images: ${what[*]}" >&2
for w in "${what[@]}"; do
  case "$w" in
    traefik) build_traefik ;;
    postgres) build_postgres ;;
    cert-manager) "$IMAGES_DIR/build-cert-manager.sh" ;;
    *) die "unknown add-on image '$w' (known: traefik, postgres, cert-manager)" ;;
  esac
done
echo "==> add-on images ready in $(elapsed)" >&2
