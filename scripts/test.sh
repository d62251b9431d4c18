#!/usr/bin/env bash
# Runs every test of the workspace. Installs the external tools the tests use when they
# are missing: from Debian zbarimg (an independent QR reader), tmux (drives the station
# TUI) and PostgreSQL (the storage conformance suite starts its own cluster); anvil (a
# real EVM node) from npm into .tools/; solders (LiteSVM, the real Solana runtime) from
# PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v zbarimg >/dev/null 2>&1 || need_apt+=(zbar-tools)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${need_apt[@]}" >/dev/null
fi

anvil=.tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
if [ -z "${STRONGROOM_ANVIL:-}" ] && [ ! -x "$anvil" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "installing: npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q npm >/dev/null
  fi
  echo "installing: anvil (npm @foundry-rs/anvil-linux-amd64)"
  mkdir -p .tools
  npm install --prefix .tools --no-save --silent @foundry-rs/anvil-linux-amd64@1.7.1 >/dev/null
  chmod +x "$anvil"
fi

# The real Solana runtime: LiteSVM from PyPI `solders`.
if ! python3 -c "import solders.litesvm" >/dev/null 2>&1; then
  echo "installing: solders (PyPI, LiteSVM)"
  python3 -m pip install --quiet solders==0.29.0 \
    || python3 -m pip install --quiet --break-system-packages solders==0.29.0
fi

cargo test --workspace --locked "$@"
