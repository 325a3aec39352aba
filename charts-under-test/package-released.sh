#!/usr/bin/env bash
# Package the released chart sources (released-src/<chart>-<version>/) into repo/ as a chart
# repository: <chart>-<version>.tgz plus index.yaml. The harness serves repo/ over loopback HTTP as
# `harness-charts`; the `upgrade` scenario installs from it, as users install the released chart.
#
# The output is checked in. Idempotent: helm stamps times into archives and index.yaml, so an
# existing archive is kept when its contents equal a fresh package, and index.yaml is rewritten
# only when an archive changed or the index does not describe the archives exactly.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$here/released-src
repo=$here/repo

# shellcheck source=helm-pinned.sh
source "$here/helm-pinned.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$repo"
changed=0

for dir in "$src"/*/; do
  dir=${dir%/}
  name=$(sed -n 's/^name: *//p' "$dir/Chart.yaml")
  version=$(sed -n 's/^version: *//p' "$dir/Chart.yaml")
  tgz=$name-$version.tgz
  echo "==> $name $version ($dir)"
  "$helm" lint --strict "$dir" >"$work/lint.log" 2>&1 || { cat "$work/lint.log" >&2; exit 1; }
  "$helm" package "$dir" -d "$work/new" >/dev/null
  if [ -f "$repo/$tgz" ]; then
    mkdir -p "$work/a" "$work/b" && rm -rf "$work/a/"* "$work/b/"*
    tar -mxzf "$repo/$tgz" -C "$work/a" && tar -mxzf "$work/new/$tgz" -C "$work/b"
    if diff -r "$work/a" "$work/b" >/dev/null; then
      echo "    repo/$tgz is up to date"
      continue
    fi
    echo "    repo/$tgz differs from its sources: repackaging"
  fi
  cp "$work/new/$tgz" "$repo/$tgz"
  changed=1
  echo "    wrote repo/$tgz"
done

# Does index.yaml list exactly the archives, with their current digests?
index_ok() {
  [ -f "$repo/index.yaml" ] || return 1
  local n=0 f
  for f in "$repo"/*.tgz; do
    grep -q "digest: $(sha256sum "$f" | cut -d' ' -f1)" "$repo/index.yaml" || return 1
    n=$((n + 1))
  done
  [ "$(grep -c 'digest:' "$repo/index.yaml")" -eq "$n" ]
}
if [ "$changed" = 1 ] || ! index_ok; then
  # Relative URLs: helm resolves them against wherever the repository is served.
  "$helm" repo index "$repo"
  echo "==> wrote repo/index.yaml"
else
  echo "==> repo/index.yaml is up to date"
fi
