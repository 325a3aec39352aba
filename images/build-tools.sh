#!/usr/bin/env bash
# build-tools.sh [VERSION]: puts the pinned kind, helm (HELM_VERSION), helm3 (HELM3_VERSION) and the
# kubectl of one Kubernetes version (default: versions.env's KUBERNETES_VERSION) into
# $HARNESS_CACHE/tools/<version-key>/ (the project-local tool directory `make setup` links as
# .tools/bin; harness/tools/binaries.py computes the same key). kind is the one in that version's row
# of versions.env; kubectl is that version's (the version skew policy allows kubectl within one minor
# of the API server). For each tool: one already on PATH at the pinned version is used; else the
# official release binary is downloaded and its sha256 checked (machines with internet); else it is
# built from its Go module (registry-less machines).
source "$(dirname "$0")/lib.sh"
k8s_pins "${1:-}"
TOOLS=$HARNESS_CACHE/tools/$(tools_key)
mkdir -p "$TOOLS"
lock "tools-$(tools_key)"

# on_path_at TOOL WANT VERSION-COMMAND...: link TOOL from PATH when its version output contains WANT.
on_path_at() {
  local tool=$1 want=$2; shift 2
  local p out; p=$(command -v "$tool" 2>/dev/null) || return 1
  [[ "$p" == "$HARNESS_CACHE/tools/"* ]] && return 1
  out=$("$p" "$@" 2>/dev/null) || return 1
  [[ "$out" == *"$want"* ]] || return 1
  ln -sf "$p" "$TOOLS/$tool"
}

# download TOOL URL SHA256-URL
download() {
  local tool=$1 url=$2 sumurl=$3 tmp
  command -v curl >/dev/null || return 1
  tmp=$(mktemp); local sum
  curl -fsSL --max-time 120 -o "$tmp" "$url" || { rm -f "$tmp"; return 1; }
  sum=$(curl -fsSL --max-time 30 "$sumurl") || { rm -f "$tmp"; return 1; }
  echo "${sum%% *}  $tmp" | sha256sum -c --quiet - || die "sha256 mismatch for $url"
  install -m 0755 "$tmp" "$TOOLS/$tool"; rm -f "$tmp"
}

# go_build TOOL PACKAGE@VERSION LDFLAGS: `go install`, the documented path for kind and helm; the
# binary goes in under the tool's name (helm v3 is installed as helm3 beside helm v4).
go_build() {
  local tool=$1 pkgver=$2 ldflags=$3 dir
  need go "install Go 1.26 or newer, or put $tool on PATH at the pinned version"
  dir=$(mktemp -d)
  CGO_ENABLED=0 GOBIN=$dir go install -trimpath -ldflags "$GO_LDFLAGS_COMMON $ldflags" "$pkgver"
  install -m 0755 "$dir/$(basename "${pkgver%@*}")" "$TOOLS/$tool"; rm -rf "$dir"
}

os=$(uname -s | tr 'A-Z' 'a-z'); arch=$(uname -m); case $arch in x86_64) arch=amd64;; aarch64) arch=arm64;; esac

get_kind() {
  on_path_at kind "kind $K8S_KIND " version && return 0
  download kind "https://kind.sigs.k8s.io/dl/$K8S_KIND/kind-$os-$arch" \
    "https://kind.sigs.k8s.io/dl/$K8S_KIND/kind-$os-$arch.sha256sum" && return 0
  go_build kind "sigs.k8s.io/kind@$K8S_KIND" ""
}

# helm_ldflags VERSION: what helm's Makefile stamps. Every major: internal/version.version (unstamped
# helm says v3.x-dev / v4.3 and chart version checks misfire), an empty metadata and a clean tree.
# Helm 3 also needs the Kubernetes version its client-go is (Makefile: K8S_MODULES_MAJOR/MINOR_VER,
# from `go list -m k8s.io/client-go`: v0.37.0 -> 1.37) in pkg/chartutil and pkg/lint/rules, or
# `helm template` renders for Kubernetes v1.20 and rejects charts with kubeVersion >= 1.21. Helm 4
# reads that version from its build info at run time (internal/version/clientgo.go).
helm_ldflags() {
  local version=$1 major=${1%%.*} mod
  major=${major#v}
  local pkg=helm.sh/helm/v$major
  local flags="-X $pkg/internal/version.version=$version -X $pkg/internal/version.metadata= -X $pkg/internal/version.gitTreeState=clean"
  if [ "$major" = 3 ]; then
    mod=$(go mod download -json "$pkg@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    local cg; cg=$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$mod")
    [ -n "$cg" ] || die "cannot read k8s.io/client-go's version from helm $version's go.mod"
    for p in "$pkg/pkg/chartutil" "$pkg/pkg/lint/rules"; do
      flags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$cg"
    done
  fi
  echo "$flags"
}
# get_helm TOOL VERSION
get_helm() {
  local tool=$1 version=$2 major=${2%%.*} tmp sum
  on_path_at "$tool" "<$version>" version --template '<{{.Version}}>' && return 0
  if command -v curl >/dev/null && tmp=$(mktemp -d) \
     && curl -fsSL --max-time 120 -o "$tmp/h.tgz" "https://get.helm.sh/helm-$version-$os-$arch.tar.gz" \
     && sum=$(curl -fsSL --max-time 30 "https://get.helm.sh/helm-$version-$os-$arch.tar.gz.sha256sum") \
     && echo "${sum%% *}  $tmp/h.tgz" | sha256sum -c --quiet - && tar -xzf "$tmp/h.tgz" -C "$tmp"; then
    install -m 0755 "$tmp/$os-$arch/helm" "$TOOLS/$tool"; rm -rf "$tmp"; return 0
  fi
  go_build "$tool" "helm.sh/helm/$major/cmd/helm@$version" "$(helm_ldflags "$version")"
}
get_kubectl() {
  on_path_at kubectl "Client Version: $K8S_VERSION"$'\n' version --client && return 0
  download kubectl "https://dl.k8s.io/release/$K8S_VERSION/bin/$os/$arch/kubectl" \
    "https://dl.k8s.io/release/$K8S_VERSION/bin/$os/$arch/kubectl.sha256" && return 0
  "$IMAGES_DIR/build-kubernetes.sh" "$K8S_VERSION" && ln -sf "$K8S_BIN/kubectl" "$TOOLS/kubectl"
}

for t in kind helm helm3 kubectl; do
  if [ -x "$TOOLS/$t" ]; then echo "    $t cached in $TOOLS" >&2; continue; fi
  case $t in
    helm) step "tool-helm-$HELM_VERSION" get_helm helm "$HELM_VERSION" ;;
    helm3) step "tool-helm3-$HELM3_VERSION" get_helm helm3 "$HELM3_VERSION" ;;
    *) step "tool-$t-$( [ $t = kind ] && echo "$K8S_KIND" || echo "$K8S_VERSION")" "get_$t" ;;
  esac
done
# A tool that is not what was pinned is removed, so the next run fetches it again.
check() { # check TOOL WANT VERSION-COMMAND...
  local tool=$1 want=$2 out; shift 2
  out=$("$TOOLS/$tool" "$@" 2>&1) || true
  [[ "$out" == *"$want"* ]] || { rm -f "$TOOLS/$tool"; die "$tool in $TOOLS is not $want (it says: ${out%%$'\n'*})"; }
}
check kind "kind $K8S_KIND " version
check helm "<$HELM_VERSION>" version --template '<{{.Version}}>'
check helm3 "<$HELM3_VERSION>" version --template '<{{.Version}}>'
check kubectl "Client Version: $K8S_VERSION"$'\n' version --client
echo "$TOOLS"
