#!/usr/bin/env bash
# harness/toolbox: a static busybox FROM scratch (sh, wget, nslookup, httpd) that the harness's own
# cluster tests run as client and server pods. Prints its name.
source "$(dirname "$0")/lib.sh"
bb=$(command -v busybox || true)
bbinfo=$(file -L "$bb" 2>/dev/null || true)
[[ "$bbinfo" == *"statically linked"* ]] || die "a static busybox is needed; apt-get install busybox-static"
tag=harness/toolbox:$(sha256sum "$bb" | cut -c1-10)
if ! docker image inspect "$tag" >/dev/null 2>&1; then
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  cp "$bb" "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nENV PATH=/bin\nCMD ["sh"]\n' >"$ctx/Dockerfile"
  step docker-build-toolbox docker build -t "$tag.building" "$ctx"
  docker tag "$tag.building" "$tag" && docker rmi "$tag.building" >/dev/null
fi
docker tag "$tag" harness/toolbox:latest
echo "$tag"
