#!/usr/bin/env bash
# `make images`: every image the harness's clusters run, built here or reused from the cache.
# The node image: HARNESS_IMAGE_SOURCE=pull uses kindest/node (kind pulls it); local builds it;
# auto (default) keeps a local build if one exists, else tries `docker pull` and builds on failure.
source "$(dirname "$0")/lib.sh"
source_mode=${HARNESS_IMAGE_SOURCE:-auto}
echo "==> images (cache: $HARNESS_CACHE, image source: $source_mode)"
upstream=kindest/node:$KUBERNETES_VERSION
build_node=1
case "$source_mode" in
  pull) build_node=0 ;;
  local) ;;
  auto)
    if ! docker images "harness/kind-node" --format '{{.Tag}}' | grep -q "^$KUBERNETES_VERSION-"; then
      if timeout 600 docker pull -q "$upstream" >/dev/null 2>&1; then
        build_node=0; echo "==> pulled $upstream"
      else
        echo "==> $upstream cannot be pulled here; building the node image locally (cold: ~20 min)"
      fi
    fi ;;
  *) echo "error: HARNESS_IMAGE_SOURCE must be auto, pull or local, not '$source_mode'" >&2; exit 2 ;;
esac
if [ $build_node = 1 ]; then
  "$IMAGES_DIR/build-kubernetes.sh"
  node=$("$IMAGES_DIR/build-node-image.sh")
  echo "==> node image: $node"
fi
"$IMAGES_DIR/build-toolbox.sh" >/dev/null
"$IMAGES_DIR/../charts-under-test/service/build-image.sh"
[ -x "$IMAGES_DIR/build-addons.sh" ] && "$IMAGES_DIR/build-addons.sh"
echo "==> images ready in $(elapsed)"
