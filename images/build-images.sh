#!/usr/bin/env bash
# `make images` / build-images.sh [VERSION]: every image the harness's clusters of one Kubernetes
# version (default: $HARNESS_KUBERNETES_VERSION, else versions.env's KUBERNETES_VERSION) run, built
# here or reused from the cache.
# The node image: HARNESS_IMAGE_SOURCE=pull uses kindest/node (kind pulls it); local builds it;
# auto (default) keeps a local build if one exists, else tries `docker pull` and builds on failure.
source "$(dirname "$0")/lib.sh"
k8s_pins "${1:-}"
source_mode=${HARNESS_IMAGE_SOURCE:-auto}
echo "==> images for Kubernetes $K8S_VERSION (cache: $HARNESS_CACHE, image source: $source_mode)"
pull_var=NODE_PULL_1_$K8S_MINOR
upstream=${!pull_var:-kindest/node:$K8S_VERSION}
build_node=1
case "$source_mode" in
  pull) build_node=0 ;;
  local) ;;
  auto)
    local_tags=$(docker images "harness/kind-node" --format '{{.Tag}}')
    if [[ $'\n'"$local_tags" != *$'\n'"$K8S_VERSION-"* ]]; then
      if timeout 600 docker pull -q "$upstream" >/dev/null 2>&1; then
        build_node=0; echo "==> pulled $upstream"
      else
        echo "==> $upstream cannot be pulled here; building the node image locally (cold: ~30 min)"
      fi
    fi ;;
  *) echo "error: HARNESS_IMAGE_SOURCE must be auto, pull or local, not '$source_mode'" >&2; exit 2 ;;
esac
if [ $build_node = 1 ]; then
  node=$("$IMAGES_DIR/build-node-image.sh" "$K8S_VERSION")
  echo "==> node image: $node"
fi
"$IMAGES_DIR/build-toolbox.sh" >/dev/null
"$IMAGES_DIR/../charts-under-test/service/build-image.sh"
"$IMAGES_DIR/../charts-under-test/static-server/build-image.sh"
[ -x "$IMAGES_DIR/build-addons.sh" ] && "$IMAGES_DIR/build-addons.sh"
# the loopback OCI registry of the pull-path tests (harness/env/registry.py; cold: ~5 min, then cached)
"$IMAGES_DIR/build-registry.sh" >/dev/null
echo "==> images ready in $(elapsed)"
