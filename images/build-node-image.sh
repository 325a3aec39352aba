#!/usr/bin/env bash
# build-node-image.sh [VERSION]: builds the kind node image of one pinned Kubernetes version (default:
# versions.env's KUBERNETES_VERSION) without any registry, the way kind builds kindest/node
# (images/base/Dockerfile + pkg/build/nodeimage of the kind release in that version's row): a
# debootstrapped Debian with systemd, containerd, runc and kind's base files; kubeadm, kubelet and
# kubectl; CNI plugins; and every image the node runs pre-imported into containerd's k8s.io
# namespace. Tagged harness/kind-node:<version>-<key of its inputs>; prints that name on stdout.
source "$(dirname "$0")/lib.sh"
k8s_pins "${1:-}"
need docker "install Docker"
KIND_SRC=$(cd "$IMAGES_DIR" && go mod download -json "sigs.k8s.io/kind@$K8S_KIND" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$KIND_SRC/images/base/files" ] || die "kind $K8S_KIND sources not found in the Go module cache"

"$IMAGES_DIR/build-kubernetes.sh" "$K8S_VERSION"
"$IMAGES_DIR/build-runtime.sh" "$K8S_VERSION"
components=$("$IMAGES_DIR/build-components.sh" "$K8S_VERSION") || die "component images for $K8S_VERSION failed"
mapfile -t component_images <<<"$components"
[ ${#component_images[@]} -ge 8 ] || die "component build returned ${#component_images[@]} images"

# What kind's base Dockerfile installs, from Debian. The container runtime is Debian's containerd 1.6
# and runc 1.1 where the version's row says `debian`, else containerd 2.x and runc built by
# build-runtime.sh (containerd's support table has no 1.6 for Kubernetes 1.35+). crictl is left out.
base_pkgs=(systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool util-linux mount kmod
  libseccomp2 pigz bash ca-certificates curl jq procps nfs-common)
if [ "$K8S_CONTAINERD" = debian ]; then
  # this exact list keys the existing bookworm rootfs image; keep its order
  ROOTFS=$(debian_image node systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool \
    util-linux mount kmod libseccomp2 pigz bash ca-certificates curl jq procps containerd runc nfs-common)
else
  # a name of its own: debian_image drops other package lists' images of the same name
  ROOTFS=$(debian_image node-base "${base_pkgs[@]}")
  CONTAINERD_DIR=$BIN_CACHE/containerd-$K8S_CONTAINERD RUNC_DIR=$BIN_CACHE/runc-$K8S_RUNC
fi

# The node image's tag is keyed by everything that goes into it, so a change rebuilds it.
key=$( { echo "$ROOTFS"; grep "\"$K8S_VERSION " "$IMAGES_DIR/versions.env"; cat "$0" "$IMAGES_DIR"/node/manifests/* "$IMAGES_DIR"/node/containerd/*;
         sha256sum "$K8S_BIN"/{kubeadm,kubelet,kubectl};
         [ -n "${CONTAINERD_DIR:-}" ] && sha256sum "$CONTAINERD_DIR"/* "$RUNC_DIR"/*;
         for i in "${component_images[@]}"; do docker image inspect -f '{{.Id}}' "$i"; done; } | sha256sum | cut -c1-12)
NODE_IMAGE=harness/kind-node:$K8S_VERSION-$key
if docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
  echo "    node image $NODE_IMAGE cached" >&2; echo "$NODE_IMAGE"; exit 0
fi

ctx=$(mktemp -d); trap 'rm -rf "$ctx"; docker rm -f "harness-node-build-$key" >/dev/null 2>&1 || true' EXIT
cp -a "$KIND_SRC/images/base/files" "$ctx/files"; chmod -R u+w "$ctx/files"
mkdir -p "$ctx/bin" "$ctx/cni"
cp "$K8S_BIN"/{kubeadm,kubelet,kubectl} "$ctx/bin/"
cp "$BIN_CACHE"/cni-plugins/{ptp,loopback,host-local,portmap} "$ctx/cni/"
PAUSE_IMAGE=registry.k8s.io/pause:$K8S_PAUSE
if [ -n "${CONTAINERD_DIR:-}" ]; then
  mkdir -p "$ctx/runtime/bin" "$ctx/runtime/sbin"
  cp "$CONTAINERD_DIR"/{containerd,containerd-shim-runc-v2,ctr} "$ctx/runtime/bin/"
  cp "$RUNC_DIR/runc" "$ctx/runtime/sbin/"
  sed "s|@PAUSE_IMAGE@|$PAUSE_IMAGE|" "$IMAGES_DIR/node/containerd/config-v3.toml" >"$ctx/files/etc/containerd/config.toml"
  runtime_setup="COPY runtime/bin/ /usr/local/bin/
COPY runtime/sbin/ /usr/local/sbin/"
else
  # Debian installs containerd in /usr/bin; kind's units and entrypoint expect /usr/local/bin.
  # restrict_oom_score_adj: these hosts cannot set negative oom_score_adj (see docs/cluster.md);
  # containerd then clamps kubelet's requests (-998 for sandboxes) to its own score instead of failing.
  sed -i -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \
    -e "s|sandbox_image = .*|sandbox_image = \"$PAUSE_IMAGE\"|" "$ctx/files/etc/containerd/config.toml"
  runtime_setup="RUN ln -sf /usr/bin/containerd /usr/local/bin/containerd \\
 && ln -sf /usr/bin/containerd-shim-runc-v2 /usr/local/bin/containerd-shim-runc-v2 \\
 && ln -sf /usr/bin/ctr /usr/local/bin/ctr"
fi
sandbox_line=$(grep -E '^\s*(sandbox|sandbox_image) = ' "$ctx/files/etc/containerd/config.toml") || true
[[ "$sandbox_line" == *"\"$PAUSE_IMAGE\""* ]] || die "containerd's sandbox image in the node config is not $PAUSE_IMAGE: $sandbox_line"
mkdir -p "$ctx/manifests"
for m in "$IMAGES_DIR"/node/manifests/*.yaml; do
  sed -e "s|@KUBERNETES_VERSION@|$K8S_VERSION|g" -e "s|@LOCAL_PATH_PROVISIONER_VERSION@|$LOCAL_PATH_PROVISIONER_VERSION|g" \
    "$m" >"$ctx/manifests/$(basename "$m")"
done
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $ROOTFS
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/etc/ /etc/
$runtime_setup
RUN chmod 0755 /usr/local/bin/* /kind/bin/* \
 && ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
      | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \
 && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
 && systemctl mask systemd-binfmt.service \
 && mkdir -p /etc/kubernetes/manifests /opt/cni/bin /kind/manifests
COPY bin/ /usr/bin/
COPY cni/ /opt/cni/bin/
COPY manifests/ /kind/manifests/
RUN echo "$K8S_VERSION" > /kind/version && test "\$(kubeadm version -o short)" = "$K8S_VERSION" \
 && test "\$(kubelet --version)" = "Kubernetes $K8S_VERSION"
DOCKERFILE
stage=harness/kind-node-stage:$key
step node-image-files-$K8S_VERSION docker build -t "$stage" "$ctx"

# Import the images into containerd's content store, as kind's node-image build does: start
# containerd inside a privileged build container, `ctr images import --no-unpack` (unpacking needs
# overlayfs on /var, which only the running node has as a volume), stop it, commit the container.
docker save -o "$ctx/images.tar" "${component_images[@]}"
c=harness-node-build-$key
docker rm -f "$c" >/dev/null 2>&1 || true
docker run -d --name "$c" --privileged --entrypoint sleep "$stage" infinity >/dev/null
import_images() {
  docker exec "$c" bash -c 'containerd >/var/log/containerd-build.log 2>&1 &
    for i in $(seq 1 100); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done; cat /var/log/containerd-build.log; exit 1'
  docker exec -i "$c" ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests - <"$ctx/images.tar"
  docker exec "$c" ctr --namespace=k8s.io images list -q
  docker exec "$c" bash -c 'pkill containerd; for i in $(seq 1 50); do pgrep containerd >/dev/null || exit 0; sleep 0.2; done; exit 1'
  docker exec "$c" rm -f /var/log/containerd-build.log
}
step node-image-import-$K8S_VERSION import_images
for i in "${component_images[@]}"; do
  first=${i%%/*}; ref=$i   # Docker Hub names get containerd's docker.io/ prefix
  [[ "$first" == *.* || "$first" == *:* ]] || ref=docker.io/$i
  grep -qx "$ref" "$LOG_DIR/node-image-import-$K8S_VERSION.log" || die "image $ref missing from the node's containerd after import"
done
# `docker commit --change` (Docker 20.10) cannot set STOPSIGNAL: commit, then one metadata-only build.
step node-image-commit-$K8S_VERSION docker commit "$c" "$stage-imported"
printf 'FROM %s\nENV container=docker\nSTOPSIGNAL SIGRTMIN+3\nENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]\nCMD []\n' \
  "$stage-imported" | step node-image-metadata-$K8S_VERSION docker build -t "$NODE_IMAGE.building" -
docker tag "$NODE_IMAGE.building" "$NODE_IMAGE" && docker rmi "$NODE_IMAGE.building" "$stage-imported" >/dev/null
docker rm -f "$c" >/dev/null && docker rmi "$stage" >/dev/null 2>&1 || true
# Older builds for this Kubernetes version are dead weight (1+ GB each); one a cluster still runs stays.
node_tags=$(docker images harness/kind-node --format '{{.Repository}}:{{.Tag}}')
for old in $node_tags; do
  [[ "$old" == "harness/kind-node:$K8S_VERSION-"* && "$old" != "$NODE_IMAGE" ]] && { docker rmi "$old" >/dev/null 2>&1 || true; }
done
echo "    node image $NODE_IMAGE: $(docker image inspect -f '{{.Size}}' "$NODE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')" >&2
echo "$NODE_IMAGE"
