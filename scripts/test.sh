#!/usr/bin/env bash
# Runs every test of the workspace. Installs the external readers the tests compare
# against (zbarimg) when they are missing, so it works on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v zbarimg >/dev/null 2>&1 || need_apt+=(zbar-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${need_apt[@]}" >/dev/null
fi

cargo test --workspace --locked "$@"
