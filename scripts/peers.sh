# The chains' real peers, installed when missing (sourced by test.sh and demo.sh):
# anvil (a real EVM node), playwright-core and the Keystone registry (wallet approvals)
# from npm into .tools/, and solders (LiteSVM, the real Solana runtime) from PyPI. Each
# says what it installs.

anvil=.tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
if [ ! -x "$anvil" ] || [ ! -d .tools/node_modules/playwright-core ] \
  || [ ! -d .tools/node_modules/@keystonehq/bc-ur-registry-sol ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "installing: npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q npm >/dev/null
  fi
  echo "installing: anvil (npm @foundry-rs/anvil-linux-amd64), playwright-core, the Keystone registry (eth, sol)"
  mkdir -p .tools
  # One command for all: npm prunes what a later --no-save install does not name.
  npm install --prefix .tools --no-save --silent \
    @foundry-rs/anvil-linux-amd64@1.7.1 playwright-core@1.65.1 \
    @keystonehq/bc-ur-registry-eth@0.22.1 @keystonehq/bc-ur-registry-sol@0.9.5 >/dev/null
  chmod +x "$anvil"
fi

# The real Solana runtime: LiteSVM from PyPI `solders`.
if ! python3 -c "import solders.litesvm" >/dev/null 2>&1; then
  echo "installing: solders (PyPI, LiteSVM)"
  python3 -m pip install --quiet solders==0.29.0 \
    || python3 -m pip install --quiet --break-system-packages solders==0.29.0
fi

