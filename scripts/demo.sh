#!/usr/bin/env bash
# README's main job on a fresh machine: brings the chains' real peers when they are
# missing (anvil from npm, LiteSVM from PyPI; each install says so), then runs the vault
# round trip across Bitcoin, EVM and Solana. Arguments go to the demo (`--keep`, `--out`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/peers.sh
cargo run -p strongroom-e2e --locked -- demo "$@"
