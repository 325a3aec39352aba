# Shared helpers for the image build scripts: pinned versions, cache layout, timed steps.
# Sourced, never run. Every step logs to $LOG_DIR and prints one line with its elapsed time,
# because a cold build takes many minutes and silence reads as a hang.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables it sets (pins, K8S_*) are read by the scripts that source it
set -euo pipefail

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$IMAGES_DIR/versions.env"

HARNESS_CACHE=${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/helm-e2e-harness}
BIN_CACHE=$HARNESS_CACHE/bin
LOG_DIR=$HARNESS_CACHE/logs
mkdir -p "$BIN_CACHE" "$LOG_DIR"
export GOFLAGS=${GOFLAGS:--buildvcs=false}
# Go 1.23+ refuses linkname pulls some pinned dependencies still make; upstream builds them this way too.
GO_LDFLAGS_COMMON="-s -w"

_t0=$(date +%s)
die() { echo "error: $*" >&2; exit 1; }
elapsed() { echo $(( $(date +%s) - _t0 ))s; }

# step NAME CMD...: run CMD with output in $LOG_DIR/NAME.log; one progress line before and after.
step() {
  local name=$1; shift
  local log=$LOG_DIR/$name.log start
  start=$(date +%s)
  echo "==> [$(elapsed)] $name ... (log: $log)" >&2
  if ! "$@" >"$log" 2>&1; then
    echo "error: step '$name' failed after $(( $(date +%s) - start ))s; last lines of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
  echo "    [$(elapsed)] $name done in $(( $(date +%s) - start ))s" >&2
}

# cached STAMP: true when the artifact keyed by STAMP was already built (the stamp is written last).
cached() { [ -f "$HARNESS_CACHE/stamps/$1" ]; }
mark_built() { mkdir -p "$HARNESS_CACHE/stamps"; : >"$HARNESS_CACHE/stamps/$1"; }

# lock NAME: serialize builds of the same artifact (two `make images` at once, or tools and images).
lock() { exec {_lockfd}>"$HARNESS_CACHE/$1.lock"; flock "$_lockfd"; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed; $2"; }

# supported_k8s: the Kubernetes versions with a row in versions.env, one per line.
supported_k8s() {
  local row
  for row in ${!K8S_*}; do [[ "$row" =~ ^K8S_[0-9]+_[0-9]+$ ]] && echo "${!row%% *}"; done; return 0
}

# k8s_pins [VERSION]: select one Kubernetes version's row of versions.env (default the pinned
# KUBERNETES_VERSION, or $HARNESS_KUBERNETES_VERSION) and set K8S_VERSION, K8S_MINOR, K8S_KIND,
# K8S_ETCD_TAG, K8S_ETCD_MODULE (the etcd module version for that image tag), K8S_COREDNS,
# K8S_PAUSE, K8S_CONTAINERD, K8S_RUNC, K8S_COMMIT, K8S_DIGEST. An unknown version exits 2 with
# one line listing the supported ones.
k8s_pins() {
  local want=${1:-${HARNESS_KUBERNETES_VERSION:-$KUBERNETES_VERSION}}
  [[ "$want" == v* ]] || want=v$want
  [[ "$want" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || {
    echo "error: Kubernetes version '$want' is not vMAJOR.MINOR.PATCH; supported: $(supported_k8s | tr '\n' ' ')" >&2; exit 2; }
  local var=K8S_${BASH_REMATCH[1]}_${BASH_REMATCH[2]}
  local row=${!var:-}
  if [ -z "$row" ] || [ "${row%% *}" != "$want" ]; then
    echo "error: Kubernetes $want is not pinned in images/versions.env; supported: $(supported_k8s | tr '\n' ' ')" >&2; exit 2
  fi
  K8S_VERSION=$want K8S_MINOR=${BASH_REMATCH[2]}
  K8S_KIND="" K8S_ETCD_TAG="" K8S_COREDNS="" K8S_PAUSE="" K8S_CONTAINERD="" K8S_RUNC="" K8S_COMMIT="" K8S_DIGEST=""
  local kv
  for kv in ${row#* }; do
    case "${kv%%=*}" in
      kind) K8S_KIND=${kv#*=} ;; etcd) K8S_ETCD_TAG=${kv#*=} ;; coredns) K8S_COREDNS=${kv#*=} ;;
      pause) K8S_PAUSE=${kv#*=} ;; containerd) K8S_CONTAINERD=${kv#*=} ;; runc) K8S_RUNC=${kv#*=} ;;
      commit) K8S_COMMIT=${kv#*=} ;; digest) K8S_DIGEST=${kv#*=} ;;
      *) die "unknown key '${kv%%=*}' in $var of versions.env" ;;
    esac
  done
  local k
  for k in K8S_KIND K8S_ETCD_TAG K8S_COREDNS K8S_PAUSE K8S_CONTAINERD K8S_RUNC; do
    [ -n "${!k}" ] || die "$var in versions.env lacks ${k#K8S_}"
  done
  K8S_ETCD_MODULE=v${K8S_ETCD_TAG%-*}
  K8S_BIN=$BIN_CACHE/kubernetes-$K8S_VERSION
}

# tools_key: the tool directory name for the selected Kubernetes version (call k8s_pins first);
# harness/tools/binaries.py computes the same name.
tools_key() { echo "kind-$K8S_KIND-helm-$HELM_VERSION-helm3-$HELM3_VERSION-kubectl-$K8S_VERSION"; }

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# debian_image NAME [PACKAGE...]: a Debian $DEBIAN_SUITE root file system made by debootstrap
# (minbase plus PACKAGES) and imported as harness/debian-NAME:<suite>-<hash of the package list>.
# `docker build` cannot pull a FROM image here, so every Debian-based image starts from one of these.
debian_image() {
  local name=$1; shift
  local key tag dir
  key=$(echo "rootfs-v2 $DEBIAN_SUITE $*" | sha256sum | cut -c1-10)
  tag=harness/debian-$name:$DEBIAN_SUITE-$key
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    need debootstrap "apt-get install debootstrap"
    dir=$(mktemp -d "$HARNESS_CACHE/rootfs-$name.XXXX")
    local include=""; [ $# -gt 0 ] && include="--include=$(IFS=,; echo "$*")"
    step "debootstrap-$name" debootstrap --variant=minbase $include "$DEBIAN_SUITE" "$dir" "$DEBIAN_MIRROR"
    # apt lists and docs are dead weight in an image nobody runs apt in
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
    step "docker-import-$name" sh -c "tar -C '$dir' -c . | docker import -c 'CMD [\"/bin/bash\"]' - '$tag'"
    rm -rf "$dir"
    # an older package list's rootfs is dead weight once its replacement exists
    docker images "harness/debian-$name" --format '{{.Repository}}:{{.Tag}}' | grep -vx "$tag" \
      | xargs -r docker rmi >/dev/null 2>&1 || true
  fi
  echo "$tag"
}
