#!/usr/bin/env bash
# build-actionlint.sh [TOOLS_DIR]: puts the pinned actionlint (ACTIONLINT_VERSION in versions.env) into
# the tools directory (default: the default Kubernetes version's, the one `make setup` links as
# .tools/bin), built from its Go module github.com/rhysd/actionlint/cmd/actionlint (`go install`,
# actionlint's documented way to build it). A development tool: the tests lint action.yml and the
# workflows with it (tests/integration/test_gate_workflow_actionlint.py); no harness run needs it, so
# without Go this prints why it skipped and exits 0.
source "$(dirname "$0")/lib.sh"
k8s_pins ""
TOOLS=${1:-$HARNESS_CACHE/tools/$(tools_key)}
mkdir -p "$TOOLS"
lock "tools-$(tools_key)-actionlint"

# pinned: the binary in TOOLS says ACTIONLINT_VERSION on its first `-version` line
pinned() {
  local out
  [ -x "$TOOLS/actionlint" ] || return 1
  out=$("$TOOLS/actionlint" -version 2>/dev/null) || return 1
  [[ "${out%%$'\n'*}" == "$ACTIONLINT_VERSION" ]]
}

build() {
  local dir
  dir=$(mktemp -d)
  CGO_ENABLED=0 GOBIN=$dir go install -trimpath -ldflags "$GO_LDFLAGS_COMMON" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  install -m 0755 "$dir/actionlint" "$TOOLS/actionlint"; rm -rf "$dir"
}

if pinned; then
  echo "    actionlint $ACTIONLINT_VERSION cached in $TOOLS" >&2
elif ! command -v go >/dev/null 2>&1; then
  echo "    actionlint skipped: Go is not installed (only the workflow lint tests need it)" >&2
else
  step "tool-actionlint-$ACTIONLINT_VERSION" build
  pinned || die "actionlint in $TOOLS is not $ACTIONLINT_VERSION"
fi
