#!/usr/bin/env bash
# Host packages the image builds need (Debian/Ubuntu CI machines; a no-op where all are present).
set -euo pipefail
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
{ command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q 'statically linked'; } 2>/dev/null || missing+=(busybox-static)
command -v file >/dev/null || missing+=(file)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v go >/dev/null || missing+=(golang-go)
[ ${#missing[@]} -eq 0 ] && { echo "==> host: build prerequisites present"; exit 0; }
command -v apt-get >/dev/null || { echo "error: missing ${missing[*]}; install them and retry" >&2; exit 3; }
echo "==> host: installing ${missing[*]}"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
