#!/usr/bin/env bash
# build-runtime.sh [VERSION]: the container runtime of one Kubernetes version's node image, from
# versions.env's row: containerd (ctr, containerd, containerd-shim-runc-v2) from the Go module
# github.com/containerd/containerd/v2 and runc from github.com/opencontainers/runc, each into
# $BIN_CACHE/<name>-<version>/. A row that says `debian` uses Debian's packages and builds nothing.
# Flags follow upstream's Makefiles: containerd's build tags as kind's base image uses them
# (no_btrfs no_zfs no_devmapper no_aufs: snapshotters a kind node never selects), version stamps
# in $(PKG)/version; runc with cgo and libseccomp (tags seccomp urfave_cli_no_docs).
source "$(dirname "$0")/lib.sh"
k8s_pins "${1:-}"
need go "install Go 1.24 or newer"

# gomod_install NAME VERSION CHECK CGO TAGS LDFLAGS PKG@VERSION...: `go install` into $BIN_CACHE/NAME-VERSION;
# CHECK DIR runs on the fresh binaries before they are moved in and stamped.
gomod_install() {
  local name=$1 version=$2 check=$3 cgo=$4 tags=$5 ldflags=$6; shift 6
  local out=$BIN_CACHE/$name-$version stamp=gobin-$name-$version
  lock "$stamp"
  cached "$stamp" && { echo "    $name $version cached in $out" >&2; return 0; }
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  step "go-install-$name-$version" env CGO_ENABLED="$cgo" GOBIN="$out.tmp" \
    go install -trimpath -tags "$tags" -ldflags "$GO_LDFLAGS_COMMON $ldflags" "$@"
  "$check" "$out.tmp"
  rm -rf "$out"; mv "$out.tmp" "$out"; mark_built "$stamp"
}

check_containerd() {
  local got; got=$("$1/containerd" --version) || die "the built containerd does not run"
  [[ "$got" == *" $K8S_CONTAINERD "* || "$got" == *" $K8S_CONTAINERD" ]] || die "containerd reports '$got', not $K8S_CONTAINERD"
}
check_runc() {
  local got; got=$("$1/runc" --version) || die "the built runc does not run"
  [[ "$got" == *"runc version ${K8S_RUNC#v}"$'\n'* ]] || die "runc reports '${got%%$'\n'*}', not $K8S_RUNC"
  [[ "$got" == *"libseccomp: "* ]] || die "runc was built without seccomp"
}

if [ "$K8S_CONTAINERD" != debian ]; then
  pkg=github.com/containerd/containerd/v2
  # Static (cgo off): the binaries then run on any node userland; the snapshotters needing cgo are tagged out.
  gomod_install containerd "$K8S_CONTAINERD" check_containerd 0 "no_btrfs no_zfs no_devmapper no_aufs urfave_cli_no_docs" \
    "-X $pkg/version.Version=$K8S_CONTAINERD -X $pkg/version.Package=github.com/containerd/containerd/v2" \
    "$pkg/cmd/containerd@$K8S_CONTAINERD" "$pkg/cmd/containerd-shim-runc-v2@$K8S_CONTAINERD" "$pkg/cmd/ctr@$K8S_CONTAINERD"
fi
if [ "$K8S_RUNC" != debian ]; then
  [ -f /usr/include/seccomp.h ] || die "runc needs libseccomp's headers; apt-get install libseccomp-dev"
  # cgo: runc's nsenter is C, and seccomp filters come from libseccomp (linked dynamically; the node has libseccomp2).
  gomod_install runc "$K8S_RUNC" check_runc 1 "seccomp urfave_cli_no_docs" "-X main.gitCommit=$K8S_RUNC" \
    "github.com/opencontainers/runc@$K8S_RUNC"
fi
