# Sourced by the scripts here: sets $helm to the pinned helm binary, or exits with a reason.
# Order: $HELM, the harness's tool cache (images/build-tools.sh puts it there), helm on PATH;
# whichever is found must be the version pinned in images/versions.env.
versions_env=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/images/versions.env
pin() { sed -n "s/^$1=//p" "$versions_env"; }
helm_pinned=$(pin HELM_VERSION)
helm_cache=${HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/helm-e2e-harness}
helm=${HELM:-$helm_cache/tools/kind-$(pin KIND_VERSION)-helm-$helm_pinned-helm3-$(pin HELM3_VERSION)-kubectl-$(pin KUBERNETES_VERSION)/helm}
[ -x "$helm" ] || helm=$(command -v helm || true)
[ -n "$helm" ] || { echo "error: no helm binary (set HELM, or build the pinned tools first)" >&2; exit 1; }
helm_got=$("$helm" version --template '{{ .Version }}')
[ "$helm_got" = "$helm_pinned" ] || { echo "error: $helm is $helm_got, want the pinned $helm_pinned" >&2; exit 1; }
