#!/bin/sh
# Install the real Claude Code client, pinned, for the real-client tests (issue #11).
#
#   .ci/install-claude.sh [PREFIX]     (default PREFIX: $PROXYDIAG_CLAUDE_PREFIX or /opt/proxydiag-claude)
#
# Prints the absolute path of the claude binary on its last line of stdout, so callers can
#   export PROXYDIAG_CLAUDE="$(.ci/install-claude.sh | tail -n 1)"
# Idempotent: when the pinned version is already installed it only prints the path (well under a second).
# Installs node/npm from Debian when npm is missing. Never installs into the repository.
set -eu

CLAUDE_CODE_VERSION="2.1.332"   # pinned: bump deliberately (npm view @anthropic-ai/claude-code version)
PREFIX="${1:-${PROXYDIAG_CLAUDE_PREFIX:-/opt/proxydiag-claude}}"
BIN="$PREFIX/node_modules/.bin/claude"
PKG_JSON="$PREFIX/node_modules/@anthropic-ai/claude-code/package.json"

installed_version() {
    # Read the version npm recorded, without running the binary (no network, no update check).
    [ -f "$PKG_JSON" ] || return 1
    sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$PKG_JSON" | head -n 1
}

if [ -x "$BIN" ] && [ "$(installed_version || true)" = "$CLAUDE_CODE_VERSION" ]; then
    echo "$BIN"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "install-claude: npm not found, installing nodejs and npm from Debian" >&2
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-claude: no npm and no apt-get; install Node.js/npm first" >&2
        exit 1
    fi
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >&2
fi

mkdir -p "$PREFIX"
echo "install-claude: npm install @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION into $PREFIX" >&2
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >&2

if [ ! -x "$BIN" ]; then
    echo "install-claude: npm finished but $BIN is missing" >&2
    exit 1
fi
echo "$BIN"
