#!/usr/bin/env bash
# Try the newest Claude Code release before users meet it (issue 17).
#
#   scripts/try-latest-claude.sh [VERSION]     (default: the newest on npm)
#
# Installs @anthropic-ai/claude-code@VERSION into a scratch prefix (never the pinned one that
# .ci/install-claude.sh keeps for CI), then
#   1. runs scripts/compare_claude.py: the pinned and the new release against the same lab
#      scenarios, side by side -- reached or not, status, error code, wording, exit code, and
#      which trust stores each reads (CLAUDE_CODE_CERT_STORE=bundled/system, NODE_EXTRA_CA_CERTS);
#   2. runs the real-client tests with PROXYDIAG_CLAUDE pointing at the new release.
# A new release never turns CI red by itself: CI keeps the pin; this script tells what to update
# (the pin in .ci/install-claude.sh, triage wording, the Claude Code runner) before a bump.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-$(npm view @anthropic-ai/claude-code version)}"
pinned_bin=$(bash .ci/install-claude.sh | tail -n 1)
prefix="${PROXYDIAG_TRY_PREFIX:-${TMPDIR:-/tmp}/proxydiag-claude-try-$version}"
echo "pinned: $("$pinned_bin" --version 2>/dev/null | head -n 1) ($pinned_bin)"
if [ ! -x "$prefix/node_modules/.bin/claude" ]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "@anthropic-ai/claude-code@$version" >&2
fi
new_bin="$prefix/node_modules/.bin/claude"
echo "trying: $("$new_bin" --version 2>/dev/null | head -n 1) ($new_bin)"
python3 scripts/compare_claude.py "$pinned_bin" "$new_bin"
set +e
PROXYDIAG_CLAUDE="$new_bin" PATH="$(dirname "$new_bin"):$PATH" python3 -m pytest -q -p no:cacheprovider \
  $(ls tests/test_clients.py tests/test_fixes.py tests/test_gateway.py tests/test_certificate_branch.py 2>/dev/null) \
  -k "claude or proven"
rc=$?
set -e
echo "real-client tests with $version: exit $rc (0 = nothing to update)"
exit "$rc"
