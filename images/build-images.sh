#!/usr/bin/env bash
# `make images`: every image the harness's clusters run, built here or reused from the cache.
# Order: Kubernetes binaries, node image (with its component images), test toolbox image.
source "$(dirname "$0")/lib.sh"
echo "==> images (cache: $HARNESS_CACHE)"
"$IMAGES_DIR/build-kubernetes.sh"
node=$("$IMAGES_DIR/build-node-image.sh")
echo "==> node image: $node"
"$IMAGES_DIR/build-toolbox.sh" >/dev/null
echo "==> images ready in $(elapsed)"
