#!/usr/bin/env bash
# Build harness/demo-service:<version> for each version given (default: 1.0.0 1.1.0): the demo
# service of the realtime and ha-service charts, a FROM scratch image of its static binary
# (../build-go-image.sh: cache by source hash, tagged only after its smoke test `service version`).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../build-go-image.sh" "$here" "${IMAGE_REPOSITORY:-harness/demo-service}" service version \
  "go.mod go.sum Dockerfile build-image.sh *.go" "$@"
