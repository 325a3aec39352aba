#!/usr/bin/env bash
# build-components.sh [VERSION]: builds every image a kind node of one pinned Kubernetes version
# (default: versions.env's KUBERNETES_VERSION) runs besides the Kubernetes binaries themselves, each
# from a Go module or Debian package, tagged with the exact name kubeadm (`kubeadm config images
# list`) or our node manifests (images/node/manifests) expect. etcd, CoreDNS and pause follow that
# version's row of versions.env. Prints the image names, one per line, on stdout.
source "$(dirname "$0")/lib.sh"
k8s_pins "${1:-}"
need go "install Go 1.24 or newer"
need docker "install Docker"

# gobin NAME PKG@VERSION...: `go install` into the cache, once per pinned version.
gobin() {
  local name=$1; shift
  local dir=$BIN_CACHE/$name
  cached "gobin-$name" && return 0
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  step "go-install-$name" env CGO_ENABLED=0 GOBIN="$dir.tmp" go install -trimpath -ldflags "$GO_LDFLAGS_COMMON" "$@"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"; mark_built "gobin-$name"
}
# wrapper NAME DIR [BINARY]: `go build` of a wrapper module of ours (upstream go.mod has replaces)
# into $BIN_CACHE/NAME/BINARY (BINARY defaults to NAME).
wrapper() {
  local name=$1 dir=$2 bin=${3:-$1} out=$BIN_CACHE/$1 stamp
  stamp="wrapper-$name-$(cat "$dir"/go.mod "$dir"/*.go | sha256sum | cut -c1-10)"
  cached "$stamp" && return 0
  mkdir -p "$out"
  step "go-build-$name" sh -c "cd '$dir' && CGO_ENABLED=0 go build -trimpath -ldflags '$GO_LDFLAGS_COMMON' -o '$out/$bin.tmp' . && mv '$out/$bin.tmp' '$out/$bin'"
  mark_built "$stamp"
}

# image TAG DOCKERFILE-TEXT FILE...: docker build with FILEs in the context. Built under a
# temporary tag and renamed only on success, so a failed build never leaves a good-looking tag.
image() {
  local tag=$1 dockerfile=$2; shift 2
  # Keyed by the Dockerfile text and the files' contents, so a new base or binary rebuilds it.
  local key; key=$( { printf '%s' "$dockerfile"; sha256sum "$@" | cut -d' ' -f1; } | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "harness.key"}}' "$tag" 2>/dev/null)" = "$key" ]; then
    echo "$tag"; return 0
  fi
  local ctx; ctx=$(mktemp -d)
  printf '%s\nLABEL harness.key=%s\n' "$dockerfile" "$key" >"$ctx/Dockerfile"
  for f in "$@"; do cp -a "$f" "$ctx/"; done
  step "docker-build-$(echo "$tag" | tr '/:' '__')" docker build -t "$tag.building" "$ctx"
  docker tag "$tag.building" "$tag" && docker rmi "$tag.building" >/dev/null
  rm -rf "$ctx"
  echo "$tag"
}

[ -f "$IMAGES_DIR/build/etcd/$K8S_ETCD_MODULE/go.mod" ] || die "no etcd wrapper module build/etcd/$K8S_ETCD_MODULE (kubeadm wants etcd $K8S_ETCD_TAG)"
wrapper "etcd-$K8S_ETCD_MODULE" "$IMAGES_DIR/build/etcd/$K8S_ETCD_MODULE" etcd
gobin "coredns-$K8S_COREDNS" "github.com/coredns/coredns@$K8S_COREDNS"
gobin cni-plugins "github.com/containernetworking/plugins/plugins/main/ptp@$CNI_PLUGINS_VERSION" \
  "github.com/containernetworking/plugins/plugins/main/loopback@$CNI_PLUGINS_VERSION" \
  "github.com/containernetworking/plugins/plugins/ipam/host-local@$CNI_PLUGINS_VERSION" \
  "github.com/containernetworking/plugins/plugins/meta/portmap@$CNI_PLUGINS_VERSION"
gobin local-path-provisioner "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
wrapper podnet "$IMAGES_DIR/podnet"
if ! [ -x "$BIN_CACHE/pause/pause" ]; then
  need gcc "apt-get install gcc libc6-dev"
  mkdir -p "$BIN_CACHE/pause"
  step gcc-pause gcc -static -O2 -o "$BIN_CACHE/pause/pause" "$IMAGES_DIR/pause/pause.c"
fi

NET_BASE=$(debian_image net iptables conntrack iproute2 kmod ipset)
busybox=$(command -v busybox || true)
bbinfo=$(file -L "$busybox" 2>/dev/null || true)
[[ "$bbinfo" == *"statically linked"* ]] || die "a static busybox is needed for the local-path helper image; apt-get install busybox-static"

scratch_image() { # scratch_image TAG BINARY [ENTRYPOINT-PATH]
  local tag=$1 bin=$2 path=${3:-/usr/local/bin/$(basename "$2")}
  image "$tag" "FROM scratch
COPY $(basename "$bin") $path
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENTRYPOINT [\"$path\"]" "$bin"
}

[ -x "$K8S_BIN/kubeadm" ] || die "kubernetes binaries missing in $K8S_BIN; run images/build-kubernetes.sh $K8S_VERSION"
# kubeadm names the control-plane, etcd, CoreDNS and pause images itself; ask it, do not guess,
# and check that versions.env's row says the same (containerd's sandbox image is taken from it).
images_list=$("$K8S_BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION") \
  || die "kubeadm config images list failed"
mapfile -t wanted <<<"$images_list"
for want in "etcd:$K8S_ETCD_TAG" "coredns:$K8S_COREDNS" "pause:$K8S_PAUSE"; do
  [[ $'\n'"$images_list"$'\n' == *"/$want"$'\n'* ]] || die "kubeadm $K8S_VERSION does not list $want; fix its row in versions.env: $(echo $images_list)"
done
for ref in "${wanted[@]}"; do
  case "$ref" in
    */kube-proxy:*)
      image "$ref" "FROM $NET_BASE
COPY kube-proxy /usr/local/bin/kube-proxy
ENTRYPOINT [\"/usr/local/bin/kube-proxy\"]" "$K8S_BIN/kube-proxy" ;;
    */kube-apiserver:*|*/kube-controller-manager:*|*/kube-scheduler:*)
      name=${ref##*/}; name=${name%%:*}
      scratch_image "$ref" "$K8S_BIN/$name" ;;
    */etcd:*) scratch_image "$ref" "$BIN_CACHE/etcd-$K8S_ETCD_MODULE/etcd" ;;
    */coredns:*) scratch_image "$ref" "$BIN_CACHE/coredns-$K8S_COREDNS/coredns" /coredns ;;
    */pause:*) scratch_image "$ref" "$BIN_CACHE/pause/pause" /pause ;;
    *) die "kubeadm wants an image this script does not know how to build: $ref" ;;
  esac
done
image "harness/podnet:$K8S_VERSION" "FROM $NET_BASE
COPY podnet /usr/local/bin/podnet
ENTRYPOINT [\"/usr/local/bin/podnet\"]" "$BIN_CACHE/podnet/podnet"
scratch_image "harness/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" "$BIN_CACHE/local-path-provisioner/local-path-provisioner"
# The helper pod only runs `sh -c 'mkdir|rm ...'`; a static busybox is all it needs.
image "harness/local-path-helper:$LOCAL_PATH_PROVISIONER_VERSION" 'FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin' "$busybox"
