#!/usr/bin/env bash
# Builds kubeadm, kubelet, kubectl and the control-plane binaries from k8s.io/kubernetes through the
# wrapper module in build/kubernetes (its go.mod repeats upstream's staging replaces), with the
# version ldflags upstream's hack/lib/version.sh stamps: unstamped binaries say v0.0.0-master,
# which kubeadm's and helm's version checks reject.
source "$(dirname "$0")/lib.sh"
need go "install Go 1.24 or newer (https://go.dev/doc/install)"
out=$BIN_CACHE/kubernetes-$KUBERNETES_VERSION
stamp=kubernetes-$KUBERNETES_VERSION
lock "$stamp"
cached "$stamp" && { echo "    kubernetes $KUBERNETES_VERSION binaries cached in $out"; exit 0; }

minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
ldflags="$GO_LDFLAGS_COMMON"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitCommit=$KUBERNETES_COMMIT -X $pkg.gitTreeState=clean"
  ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
mkdir -p "$out.tmp"
build_one() {
  local cmd=$1 cgo=$2
  (cd "$IMAGES_DIR/build/kubernetes" && CGO_ENABLED=$cgo go build -trimpath -ldflags "$ldflags" \
     -o "$out.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd")
}
for cmd in kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
  step "go-build-$cmd" build_one "$cmd" 0
done
# upstream links kubelet with cgo (hack/lib/golang.sh); it runs on the node's Debian userland.
step go-build-kubelet build_one kubelet 1
"$out.tmp/kubeadm" version -o short | grep -qx "$KUBERNETES_VERSION" || die "kubeadm is not stamped $KUBERNETES_VERSION"
rm -rf "$out" && mv "$out.tmp" "$out"
mark_built "$stamp"
