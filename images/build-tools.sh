#!/usr/bin/env bash
# Puts the pinned kind, helm and kubectl into $HARNESS_CACHE/tools/<version-key>/ (the project-local
# tool directory `make setup` links as .tools/bin). For each tool: one already on PATH at the pinned
# version is used; else the official release binary is downloaded and its sha256 checked (machines
# with internet); else it is built from its Go module (registry-less machines).
source "$(dirname "$0")/lib.sh"
TOOLS=$HARNESS_CACHE/tools/kind-$KIND_VERSION-helm-$HELM_VERSION-kubectl-$KUBERNETES_VERSION
mkdir -p "$TOOLS"

on_path_at() { # on_path_at TOOL VERSION VERSION-COMMAND...
  local tool=$1 want=$2; shift 2
  local p; p=$(command -v "$tool" 2>/dev/null) || return 1
  [[ "$p" == "$TOOLS/"* ]] && return 1
  "$p" "$@" 2>/dev/null | grep -q -- "$want" || return 1
  ln -sf "$p" "$TOOLS/$tool"
}

download() { # download TOOL URL SHA256-URL
  local tool=$1 url=$2 sumurl=$3 tmp
  command -v curl >/dev/null || return 1
  tmp=$(mktemp); local sum
  curl -fsSL --max-time 120 -o "$tmp" "$url" || { rm -f "$tmp"; return 1; }
  sum=$(curl -fsSL --max-time 30 "$sumurl" | awk '{print $1}') || { rm -f "$tmp"; return 1; }
  echo "$sum  $tmp" | sha256sum -c --quiet - || die "sha256 mismatch for $url"
  install -m 0755 "$tmp" "$TOOLS/$tool"; rm -f "$tmp"
}

go_build() { # go_build TOOL PACKAGE@VERSION LDFLAGS: `go install`, the documented path for both
  local tool=$1 pkgver=$2 ldflags=$3 dir
  need go "install Go 1.24 or newer, or put $tool on PATH at the pinned version"
  dir=$(mktemp -d)
  CGO_ENABLED=0 GOBIN=$dir go install -trimpath -ldflags "$GO_LDFLAGS_COMMON $ldflags" "$pkgver"
  install -m 0755 "$dir/$tool" "$TOOLS/$tool"; rm -rf "$dir"
}

os=$(uname -s | tr 'A-Z' 'a-z'); arch=$(uname -m); case $arch in x86_64) arch=amd64;; aarch64) arch=arm64;; esac

get_kind() {
  on_path_at kind "kind $KIND_VERSION " version && return 0
  download kind "https://kind.sigs.k8s.io/dl/$KIND_VERSION/kind-$os-$arch" \
    "https://kind.sigs.k8s.io/dl/$KIND_VERSION/kind-$os-$arch.sha256sum" && return 0
  go_build kind "sigs.k8s.io/kind@$KIND_VERSION" ""
}
get_helm() {
  on_path_at helm "$HELM_VERSION+" version --short && return 0
  if command -v curl >/dev/null && tmp=$(mktemp -d) \
     && curl -fsSL --max-time 120 -o "$tmp/h.tgz" "https://get.helm.sh/helm-$HELM_VERSION-$os-$arch.tar.gz" \
     && sum=$(curl -fsSL --max-time 30 "https://get.helm.sh/helm-$HELM_VERSION-$os-$arch.tar.gz.sha256sum" | awk '{print $1}') \
     && echo "$sum  $tmp/h.tgz" | sha256sum -c --quiet - && tar -xzf "$tmp/h.tgz" -C "$tmp"; then
    install -m 0755 "$tmp/$os-$arch/helm" "$TOOLS/helm"; rm -rf "$tmp"; return 0
  fi
  # helm's Makefile stamps these; unstamped helm says v3.x-dev and chart kubeVersion checks misfire.
  go_build helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean -X helm.sh/helm/v3/internal/version.metadata="
}
get_kubectl() {
  on_path_at kubectl "Client Version: $KUBERNETES_VERSION\$" version --client && return 0
  download kubectl "https://dl.k8s.io/release/$KUBERNETES_VERSION/bin/$os/$arch/kubectl" \
    "https://dl.k8s.io/release/$KUBERNETES_VERSION/bin/$os/$arch/kubectl.sha256" && return 0
  "$IMAGES_DIR/build-kubernetes.sh" && ln -sf "$BIN_CACHE/kubernetes-$KUBERNETES_VERSION/kubectl" "$TOOLS/kubectl"
}

for t in kind helm kubectl; do
  if [ -x "$TOOLS/$t" ]; then echo "    $t cached in $TOOLS" >&2; continue; fi
  step "tool-$t" "get_$t"
done
"$TOOLS/kind" version | grep -q "kind $KIND_VERSION " || die "kind in $TOOLS is not $KIND_VERSION"
"$TOOLS/helm" version --short | grep -q "^$HELM_VERSION" || die "helm in $TOOLS is not $HELM_VERSION"
echo "$TOOLS"
