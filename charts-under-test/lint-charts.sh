#!/usr/bin/env bash
# helm lint --strict and helm template for every chart version here, with each ci/*-values.yaml,
# and the candidate charts with each broken overlay their harness-contract.yaml lists (on top of
# the contract's values). Every chart is also checked with its own defaults (no values at all), as
# users first install it. Charts with templates/httproute.yaml are also rendered with their
# HTTPRoute on (httproute-values.yaml).
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
  check "$chart (defaults)" "$chart"
  for v in "$chart"/ci/*-values.yaml; do
    check "$chart + ${v#"$chart"/}" "$chart" "$v"
  done
  # Broken overlays apply on top of the candidate chart and the values every run uses: a v2
  # contract's top-level `values: [a.yaml, ...]`, else (v1) ci/default-values.yaml.
  # The optional Gateway API HTTPRoute (values httpRoute), enabled: it must render.
  if [ -f "$chart/templates/httproute.yaml" ]; then
    check "$chart + httproute-values.yaml" "$chart" httproute-values.yaml
    if ! out=$("$helm" template lint-check "$chart" -f httproute-values.yaml 2>&1); then
      echo "FAIL template $chart + httproute-values.yaml"; failed=1
    elif [[ "$out" != *"kind: HTTPRoute"* ]]; then
      echo "FAIL httproute $chart: httpRoute.enabled renders no HTTPRoute"; failed=1
    fi
  fi
  if [ -f "$chart/harness-contract.yaml" ]; then
    contract=$chart/harness-contract.yaml
    base=()
    for v in $(sed -n 's/^values: *\[\([^]]*\)\].*/\1/p' "$contract" | tr ',' ' '); do base+=("$chart/$v"); done
    [ ${#base[@]} -gt 0 ] || base=("$chart/ci/default-values.yaml")
    # the broken entries' `values:` (indented, one path each)
    for overlay in $(sed -n 's/^ \+values: *\([^ #]*\).*/\1/p' "$contract"); do
      check "$chart + ${overlay#../}" "$chart" "${base[@]}" "$chart/$overlay"
    done
  fi
done
exit "$failed"
