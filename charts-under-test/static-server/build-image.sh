#!/usr/bin/env bash
# Build harness/static-site:<version> for each version given (default: 1.0.0 1.1.0): the image of
# the static-site chart, a static HTTP server that serves site/<version>.html and nothing else, as a
# FROM scratch image of its static binary (standard library only, so no module download;
# ../build-go-image.sh: cache by source hash, tagged only after its smoke test `-version`).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.0.0 1.1.0)
for v in "${versions[@]}"; do
  [ -f "$here/site/$v.html" ] || { echo "error: no page site/$v.html for version $v" >&2; exit 1; }
done
exec "$here/../build-go-image.sh" "$here" "${IMAGE_REPOSITORY:-harness/static-site}" static-server -version \
  "go.mod Dockerfile build-image.sh *.go site/*.html" "${versions[@]}"
