#!/usr/bin/env bash
# new-wrapper.sh vX.Y.Z: writes the wrapper module build/kubernetes/vX.Y.Z (go.mod, go.sum, tools.go)
# for a new Kubernetes pin. k8s.io/kubernetes's go.mod points every staging module at
# ./staging/src/... (v0.0.0), which `go install` refuses; the wrapper repeats each of upstream's
# replace lines with the staging module's published tag v0.Y.Z instead. Run once per new pin and
# commit the result; the build never edits it.
set -euo pipefail
v=${1:?usage: new-wrapper.sh vX.Y.Z}
[[ "$v" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "error: '$v' is not a Kubernetes version vX.Y.Z" >&2; exit 2; }
staging=v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}
here=$(cd "$(dirname "$0")" && pwd); dir=$here/$v
src=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -f "$src/go.mod" ] || { echo "error: k8s.io/kubernetes@$v not served by the Go module proxy" >&2; exit 3; }
goline=$(grep -m1 '^go ' "$src/go.mod")
mkdir -p "$dir"
{
  echo "module harness.local/build/kubernetes"
  echo
  echo "$goline"
  echo
  echo "require k8s.io/kubernetes $v"
  echo
  echo "replace ("
  sed -n '/^replace (/,/^)/p' "$src/go.mod" | awk -v s="$staging" '$2 == "=>" && $3 ~ /^\.\/staging/ {printf "\t%s => %s %s\n", $1, $1, s}'
  echo ")"
} >"$dir/go.mod"
sed -n '1,/^)/p' "$here/v1.33.1/tools.go" >"$dir/tools.go"
(cd "$dir" && go mod tidy)
echo "$dir"
