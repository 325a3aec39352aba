#!/usr/bin/env bash
# helm lint --strict and helm template for every chart version here, with each ci/*-values.yaml,
# and the candidate charts with each broken overlay their harness-contract.yaml lists.
# Exits non-zero if any combination fails; prints one line per combination.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=helm-pinned.sh
source "$here/helm-pinned.sh"
cd "$here"
failed=0

check() { # LABEL CHART [VALUES...]
  local label=$1 chart=$2 out
  shift 2
  local args=()
  for v in "$@"; do args+=(-f "$v"); done
  if ! out=$("$helm" lint --strict "$chart" "${args[@]}" 2>&1); then
    echo "FAIL lint     $label"; echo "$out" | sed 's/^/     /'; failed=1; return
  fi
  if ! out=$("$helm" template lint-check "$chart" "${args[@]}" 2>&1 >/dev/null); then
    echo "FAIL template $label"; echo "$out" | sed 's/^/     /'; failed=1; return
  fi
  echo "ok   $label"
}

for chart in */Chart.yaml released-src/*/Chart.yaml; do
  chart=$(dirname "$chart")
  for v in "$chart"/ci/*-values.yaml; do
    check "$chart + ${v#"$chart"/}" "$chart" "$v"
  done
  # Broken overlays apply on top of the candidate chart and its default ci values.
  if [ -f "$chart/harness-contract.yaml" ]; then
    for overlay in $(sed -n 's/^ *values: *//p' "$chart/harness-contract.yaml"); do
      check "$chart + ${overlay#../}" "$chart" "$chart/ci/default-values.yaml" "$chart/$overlay"
    done
  fi
done
exit "$failed"
