#!/usr/bin/env bash
# Builds the kind node image without any registry, the way kind v0.29 builds kindest/node
# (images/base/Dockerfile + pkg/build/nodeimage): a debootstrapped Debian with systemd, containerd,
# runc and kind's base files; kubeadm, kubelet and kubectl; CNI plugins; and every image the node
# runs pre-imported into containerd's k8s.io namespace. Prints the node image name on stdout.
source "$(dirname "$0")/lib.sh"
need docker "install Docker"
K8S_BIN=$BIN_CACHE/kubernetes-$KUBERNETES_VERSION
KIND_SRC=$(cd "$IMAGES_DIR" && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$KIND_SRC/images/base/files" ] || die "kind $KIND_VERSION sources not found in the Go module cache"

mapfile -t component_images < <("$IMAGES_DIR/build-components.sh")
[ ${#component_images[@]} -ge 8 ] || die "component build returned ${#component_images[@]} images"

# What kind's base Dockerfile installs, from Debian instead of upstream builds: containerd 1.6 and
# runc 1.1 are Debian bookworm's; crictl is left out (its module is not served by the proxy).
ROOTFS=$(debian_image node systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool \
  util-linux mount kmod libseccomp2 pigz bash ca-certificates curl jq procps containerd runc \
  nfs-common)

# The node image's tag is keyed by everything that goes into it, so a change rebuilds it.
key=$( { echo "$ROOTFS"; cat "$IMAGES_DIR/versions.env" "$0" "$IMAGES_DIR"/node/manifests/*; \
         for i in "${component_images[@]}"; do docker image inspect -f '{{.Id}}' "$i"; done; } | sha256sum | cut -c1-12)
NODE_IMAGE=harness/kind-node:$KUBERNETES_VERSION-$key
if docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
  echo "    node image $NODE_IMAGE cached" >&2; echo "$NODE_IMAGE"; exit 0
fi

ctx=$(mktemp -d); trap 'rm -rf "$ctx"; docker rm -f "harness-node-build-$key" >/dev/null 2>&1 || true' EXIT
cp -a "$KIND_SRC/images/base/files" "$ctx/files"; chmod -R u+w "$ctx/files"
mkdir -p "$ctx/bin" "$ctx/cni"
cp "$K8S_BIN"/{kubeadm,kubelet,kubectl} "$ctx/bin/"
cp "$BIN_CACHE"/cni-plugins/{ptp,loopback,host-local,portmap} "$ctx/cni/"
mkdir -p "$ctx/manifests"
for m in "$IMAGES_DIR"/node/manifests/*.yaml; do
  sed -e "s|@KUBERNETES_VERSION@|$KUBERNETES_VERSION|g" -e "s|@LOCAL_PATH_PROVISIONER_VERSION@|$LOCAL_PATH_PROVISIONER_VERSION|g" \
    "$m" >"$ctx/manifests/$(basename "$m")"
done
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $ROOTFS
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/etc/ /etc/
# Debian installs containerd in /usr/bin; kind's units and entrypoint expect /usr/local/bin.
# restrict_oom_score_adj: these hosts cannot set negative oom_score_adj (see ENVIRONMENT.md);
# containerd then clamps kubelet's requests (-998 for sandboxes) to its own score instead of failing.
RUN chmod 0755 /usr/local/bin/* /kind/bin/* \
 && ln -sf /usr/bin/containerd /usr/local/bin/containerd \
 && ln -sf /usr/bin/containerd-shim-runc-v2 /usr/local/bin/containerd-shim-runc-v2 \
 && ln -sf /usr/bin/ctr /usr/local/bin/ctr \
 && sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml \
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
RUN echo "$KUBERNETES_VERSION" > /kind/version && kubeadm version -o short | grep -qx "$KUBERNETES_VERSION"
DOCKERFILE
stage=harness/kind-node-stage:$key
step node-image-files docker build -t "$stage" "$ctx"

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
step node-image-import import_images
for i in "${component_images[@]}"; do
  first=${i%%/*}; ref=$i   # Docker Hub names get containerd's docker.io/ prefix
  [[ "$first" == *.* || "$first" == *:* ]] || ref=docker.io/$i
  grep -qx "$ref" "$LOG_DIR/node-image-import.log" || die "image $ref missing from the node's containerd after import"
done
# `docker commit --change` (Docker 20.10) cannot set STOPSIGNAL: commit, then one metadata-only build.
step node-image-commit docker commit "$c" "$stage-imported"
printf 'FROM %s\nENV container=docker\nSTOPSIGNAL SIGRTMIN+3\nENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]\nCMD []\n' \
  "$stage-imported" | step node-image-metadata docker build -t "$NODE_IMAGE.building" -
docker tag "$NODE_IMAGE.building" "$NODE_IMAGE" && docker rmi "$NODE_IMAGE.building" "$stage-imported" >/dev/null
docker rm -f "$c" >/dev/null && docker rmi "$stage" >/dev/null 2>&1 || true
# Older builds for this Kubernetes version are dead weight (1+ GB each); one a cluster still runs stays.
for old in $(docker images harness/kind-node --format '{{.Repository}}:{{.Tag}}' | grep ":$KUBERNETES_VERSION-" | grep -vx "$NODE_IMAGE"); do
  docker rmi "$old" >/dev/null 2>&1 || true
done
echo "    node image $NODE_IMAGE: $(docker image inspect -f '{{.Size}}' "$NODE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')" >&2
echo "$NODE_IMAGE"
