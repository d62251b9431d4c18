#!/usr/bin/env bash
# Runs every test of the workspace. Installs the external tools the tests use when they
# are missing: from Debian zbarimg (an independent QR reader), tmux (drives the station
# TUI), PostgreSQL (the storage conformance suite starts its own cluster) and chromium
# (the web console, driven headless); anvil (a real EVM node) and playwright-core from
# npm into .tools/; solders (LiteSVM, the real Solana runtime) from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v zbarimg >/dev/null 2>&1 || need_apt+=(zbar-tools)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${need_apt[@]}" >/dev/null
fi

# The chains' real peers: anvil and LiteSVM (with playwright-core for the console).
source scripts/peers.sh

# Independent validators: the OpenMetrics parser of PyPI `prometheus-client` reads
# `/metrics`; `openapi-spec-validator` checks the generated OpenAPI document;
# `eth-account` signs wallet approvals with its own EIP-712 encoder; `embit` is the
# multisig cosigner that registers an exported vault and signs its PSBTs.
if ! python3 -c "import prometheus_client, openapi_spec_validator, eth_account, embit" >/dev/null 2>&1; then
  echo "installing: prometheus-client openapi-spec-validator eth-account embit (PyPI)"
  pkgs="prometheus-client==0.23.1 openapi-spec-validator==0.7.2 eth-account==0.14.0 embit==0.8.0"
  python3 -m pip install --quiet $pkgs \
    || python3 -m pip install --quiet --break-system-packages $pkgs
fi

cargo test --workspace --locked "$@"
