#!/usr/bin/env bash
# Host packages the image builds need (Debian/Ubuntu CI machines; a no-op where all are present).
# libseccomp-dev: runc is built with cgo and seccomp (images/build-runtime.sh) for Kubernetes 1.35+ nodes.
# The shellcheck package: tests/integration/test_build_scripts_bash.py checks every script with it (skipped where absent,
# so CI provisions it here).
# chromium (without its recommended packages): tests/integration/test_report_chromium.py loads the gate report in
# headless Chromium and checks its first screen (skipped where absent).
set -euo pipefail
missing=()
lean=()   # installed without recommended packages
command -v debootstrap >/dev/null || missing+=(debootstrap)
bb=$(command -v busybox 2>/dev/null || true)
bbinfo=$( [ -n "$bb" ] && command -v file >/dev/null && file -L "$bb" 2>/dev/null || true)
[[ "$bbinfo" == *"statically linked"* ]] || missing+=(busybox-static)
command -v file >/dev/null || missing+=(file)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
[ -f /usr/include/seccomp.h ] || missing+=(libseccomp-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v go >/dev/null || missing+=(golang-go)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v chromium >/dev/null || lean+=(chromium)
[ $((${#missing[@]} + ${#lean[@]})) -eq 0 ] && { echo "==> host: build and test prerequisites present"; exit 0; }
command -v apt-get >/dev/null || { echo "error: missing ${missing[*]} ${lean[*]}; install them and retry" >&2; exit 3; }
echo "==> host: installing ${missing[*]} ${lean[*]}"
apt-get update -qq >/dev/null
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ${#lean[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
fi
