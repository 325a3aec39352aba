#!/usr/bin/env bash
# build-kubernetes.sh [VERSION]: builds kubeadm, kubelet, kubectl and the control-plane binaries of one
# pinned Kubernetes version (default: versions.env's KUBERNETES_VERSION) into
# $BIN_CACHE/kubernetes-<version>, from k8s.io/kubernetes through the wrapper module
# build/kubernetes/<version> (its go.mod repeats upstream's staging replaces with published tags;
# build/kubernetes/new-wrapper.sh writes it for a new pin), with the version ldflags upstream's
# hack/lib/version.sh stamps: unstamped binaries say v0.0.0-master, which kubeadm's and helm's
# version checks reject.
source "$(dirname "$0")/lib.sh"
k8s_pins "${1:-}"
need go "install Go 1.24 or newer (https://go.dev/doc/install)"
wrapper_dir=$IMAGES_DIR/build/kubernetes/$K8S_VERSION
[ -f "$wrapper_dir/go.mod" ] || die "no wrapper module $wrapper_dir; run images/build/kubernetes/new-wrapper.sh $K8S_VERSION"
out=$K8S_BIN
stamp=kubernetes-$K8S_VERSION
lock "$stamp"
cached "$stamp" && { echo "    kubernetes $K8S_VERSION binaries cached in $out" >&2; exit 0; }

ldflags="$GO_LDFLAGS_COMMON"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  [ -n "$K8S_COMMIT" ] && ldflags+=" -X $pkg.gitCommit=$K8S_COMMIT"
done
rm -rf "$out.tmp"; mkdir -p "$out.tmp"
build_one() {
  local cmd=$1 cgo=$2
  (cd "$wrapper_dir" && CGO_ENABLED=$cgo go build -trimpath -ldflags "$ldflags" \
     -o "$out.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd")
}
for cmd in kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
  step "go-build-$cmd-$K8S_VERSION" build_one "$cmd" 0
done
# upstream links kubelet with cgo (hack/lib/golang.sh); it runs on the node's Debian userland.
step "go-build-kubelet-$K8S_VERSION" build_one kubelet 1
got=$("$out.tmp/kubeadm" version -o short)
[ "$got" = "$K8S_VERSION" ] || die "kubeadm is stamped '$got', not $K8S_VERSION"
rm -rf "$out" && mv "$out.tmp" "$out"
mark_built "$stamp"
