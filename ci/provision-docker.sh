#!/usr/bin/env bash
# Makes a Docker engine answer on this machine, and nothing more. Idempotent: where `docker info`
# already works and a --privileged probe runs (users' machines, GitHub runners) it only says so.
# Otherwise: install Debian's docker.io, start dockerd in the background (no systemd here), and,
# only if the --privileged probe fails with the capability error, register the runc wrapper from
# ci/runc-nosysresource as the default runtime (see ../shared/ENVIRONMENT.md for why).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/helm-e2e-harness}
probe_image=harness/privileged-probe:1

say() { echo "==> docker: $*"; }
die() { echo "error: docker: $*" >&2; exit 3; }

wait_engine() {
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "dockerd did not answer within 30 s; see /var/log/dockerd.log"
}

start_dockerd() {
  if pgrep -x dockerd >/dev/null; then
    say "restarting dockerd"; pkill -x dockerd
    for _ in $(seq 1 40); do pgrep -x dockerd >/dev/null || break; sleep 0.5; done
  else
    say "starting dockerd (log: /var/log/dockerd.log)"
  fi
  nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  wait_engine
}

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    [ "$(id -u)" = 0 ] || die "no Docker engine answers and installing one needs root; start Docker and retry"
    command -v apt-get >/dev/null || die "no Docker engine answers; install and start Docker, then retry"
    say "installing Debian's docker.io"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null \
      || die "apt-get install docker.io failed"
  fi
  start_dockerd
fi

# The probe image is `FROM scratch` with a static busybox (Debian's busybox-static): no registry needed.
if ! docker image inspect "$probe_image" >/dev/null 2>&1; then
  # static FILE: `file` says FILE is statically linked. Its output is captured first: `file | grep -q`
  # under pipefail fails whenever grep exits before `file` has written everything (SIGPIPE).
  static() { local info; info=$(file -L "$1" 2>/dev/null || true); [[ "$info" == *"statically linked"* ]]; }
  bb=$(command -v busybox || true)
  if [ -z "$bb" ] || ! static "$bb"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static file >/dev/null || true
      bb=/bin/busybox
    fi
  fi
  if [ -z "$bb" ] || ! static "$bb"; then
    say "engine answers; no static busybox to probe --privileged with, so assuming it works"
    exit 0
  fi
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  cp "$bb" "$tmp/true"
  printf 'FROM scratch\nCOPY true /true\nENTRYPOINT ["/true"]\n' >"$tmp/Dockerfile"
  docker build -q -t "$probe_image" "$tmp" >/dev/null
fi

probe() { docker run --rm --privileged "$probe_image" >/dev/null 2>&1; }
if probe; then
  say "engine ready ($(docker version -f '{{.Server.Version}}'), --privileged works)"
  exit 0
fi
err=$(docker run --rm --privileged "$probe_image" 2>&1 || true)
case "$err" in
  *"unable to apply caps"*) ;;
  *) die "a --privileged container fails: $err" ;;
esac

say "--privileged fails with the capability error; registering the runc wrapper runtime"
wrapper=$cache/bin/runc-nosysresource
mkdir -p "$cache/bin"
(cd "$here/runc-nosysresource" && CGO_ENABLED=0 go build -trimpath -o "$wrapper.tmp" .) \
  || die "building the runc wrapper failed (needs Go)"
mv "$wrapper.tmp" "$wrapper"
mkdir -p /etc/docker
python3 - "$wrapper" <<'PY'
import json, os, sys
path = "/etc/docker/daemon.json"
conf = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
conf.setdefault("runtimes", {})["runc-nosysresource"] = {"path": sys.argv[1]}
conf["default-runtime"] = "runc-nosysresource"
json.dump(conf, open(path, "w"), indent=2)
PY
start_dockerd
probe || die "--privileged still fails with the wrapper runtime: $(docker run --rm --privileged "$probe_image" 2>&1)"
say "engine ready ($(docker version -f '{{.Server.Version}}'), --privileged works through runc-nosysresource)"
