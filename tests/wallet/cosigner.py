"""A multisig cosigner with embit (PyPI), a Bitcoin library independent of Strongroom's:
reads a JSON request on stdin and prints JSON.

  {"seed": hex}                          → its key for the vault, with origin:
                                           {"fingerprint", "key": "[fp/48'/1'/0'/2']pub"}
  {"seed", "bsms": text, "psbt": base64} → registers the vault from the BSMS record
                                           (its descriptor must give its first address
                                           and hold this cosigner's key), checks that
                                           every input spends the vault's script and
                                           names its key with the right derivation,
                                           signs: {"address", "signed", "psbt"}
"""
import json
import sys

from embit.bip32 import HDKey
from embit.descriptor import Descriptor
from embit.networks import NETWORKS
from embit.psbt import PSBT

PATH = "m/48h/1h/0h/2h"
net = NETWORKS["regtest"]
ask = json.load(sys.stdin)
root = HDKey.from_seed(bytes.fromhex(ask["seed"]), version=net["xprv"])
fp = root.my_fingerprint.hex()
account = root.derive(PATH)
mine = "[%s/48'/1'/0'/2']%s" % (fp, account.key.sec().hex())
if "psbt" not in ask:
    print(json.dumps({"fingerprint": fp, "key": mine}))
    sys.exit(0)

lines = ask["bsms"].strip().split("\n")
if lines[0] != "BSMS 1.0":
    sys.exit("not a BSMS 1.0 record: %r" % lines[0])
desc = Descriptor.from_string(lines[1])
if desc.address(net) != lines[3]:
    sys.exit("the record's first address is not its descriptor's")
if not any(k.fingerprint and k.fingerprint.hex() == fp and k.sec() == account.key.sec() for k in desc.keys):
    sys.exit("the vault does not hold this cosigner's key")
psbt = PSBT.from_base64(ask["psbt"])
for n, inp in enumerate(psbt.inputs):
    if inp.witness_script is None or inp.witness_script.data != desc.witness_script().data:
        sys.exit("input %d does not spend the registered vault" % n)
    ders = [d for pub, d in inp.bip32_derivations.items() if pub.sec() == account.key.sec()]
    if len(ders) != 1 or ders[0].fingerprint.hex() != fp or root.derive(ders[0].derivation).key.sec() != account.key.sec():
        sys.exit("input %d does not name this cosigner's key by its derivation" % n)
signed = psbt.sign_with(root)
print(json.dumps({"address": desc.address(net), "signed": signed, "psbt": psbt.to_base64()}))
