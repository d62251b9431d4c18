"""An Ethereum wallet's side of a typed approval, with eth-account (PyPI), an EIP-712
implementation independent of Strongroom's: reads {"key": hex, "typed": JSON text} on
stdin and prints {"address", "signature", "hash"} (hex). `address` alone when "typed"
is absent."""
import json
import sys

from eth_account import Account
from eth_account.messages import encode_typed_data

ask = json.load(sys.stdin)
account = Account.from_key(bytes.fromhex(ask["key"]))
out = {"address": account.address}
if "typed" in ask:
    typed = json.loads(ask["typed"])
    message = encode_typed_data(full_message=typed)
    signed = account.sign_message(message)
    out["signature"] = signed.signature.hex().removeprefix("0x")
    out["hash"] = signed.message_hash.hex().removeprefix("0x")
print(json.dumps(out))
