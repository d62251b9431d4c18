// The Keystone registry's side of a hardware-wallet approval (npm
// `@keystonehq/bc-ur-registry-eth`, the encoder and decoder Keystone's own software
// uses), as an independent check of what the coordinator emits and reads.
//   decode PART...          an eth-sign-request's UR parts → JSON: requestId (hex),
//                           dataType, signData (text), path, xfp (hex)
//   answer REQUEST_ID SIG   an eth-signature for request REQUEST_ID (hex) carrying SIG
//                           (65 bytes, hex) → its UR parts, one a line
//   ask-eth TX SIGNER UUID  a wallet's eth-sign-request for a typed transaction → parts
//   ask-sol MSG SIGNER UUID a wallet's sol-sign-request for a transaction (signer's
//                           public key in hex) → parts
//   read-answer TYPE FILE   a station's eth-signature / sol-signature (CBOR file) → JSON
// Usage: node keystone.cjs COMMAND ... (env KEYSTONE, KEYSTONE_SOL: the packages' paths)
"use strict";
const eth = require(process.env.KEYSTONE);
const [command, ...args] = process.argv.slice(2);

if (command === "decode") {
  const decoder = new eth.URRegistryDecoder();
  for (const part of args) decoder.receivePart(part);
  if (!decoder.isSuccess()) throw new Error("the parts do not complete a UR");
  const ur = decoder.resultUR();
  if (ur.type !== "eth-sign-request") throw new Error("not an eth-sign-request: " + ur.type);
  const r = eth.EthSignRequest.fromCBOR(ur.cbor);
  console.log(JSON.stringify({
    requestId: r.getRequestId() ? r.getRequestId().toString("hex") : null,
    dataType: r.getDataType(),
    signData: r.getSignData().toString("utf8"),
    path: r.getDerivationPath(),
    xfp: r.getSourceFingerprint() ? r.getSourceFingerprint().toString("hex") : null,
  }));
} else if (command === "answer") {
  const [requestId, sig] = args;
  const s = new eth.ETHSignature(Buffer.from(sig, "hex"), Buffer.from(requestId, "hex"), "Keystone");
  const enc = s.toUREncoder(400);
  const n = enc.fragmentsLength;
  for (let i = 0; i < Math.max(1, n); i++) console.log(enc.nextPart());
} else if (command === "ask-eth") {
  // A wallet's eth-sign-request for a typed transaction: TX (hex), SIGNER (0x…), UUID.
  const [tx, signer, uuid] = args;
  const r = eth.EthSignRequest.constructETHRequest(Buffer.from(tx, "hex"), eth.DataType.typedTransaction,
    "M/44'/60'/0'/0/0", "12345678", uuid, 1, signer, "Keystone test wallet");
  const enc = r.toUREncoder(120);
  for (let i = 0; i < Math.max(1, enc.fragmentsLength * 2); i++) console.log(enc.nextPart());
} else if (command === "ask-sol") {
  // A wallet's sol-sign-request for a transaction: MESSAGE (hex), SIGNER (hex), UUID.
  const sol = require(process.env.KEYSTONE_SOL);
  const [message, signer, uuid] = args;
  const r = sol.SolSignRequest.constructSOLRequest(Buffer.from(message, "hex"), "M/44'/501'/0'/0'", "12345678",
    sol.SignType.Transaction, uuid, signer, "Keystone test wallet");
  const enc = r.toUREncoder(120);
  for (let i = 0; i < Math.max(1, enc.fragmentsLength * 2); i++) console.log(enc.nextPart());
} else if (command === "read-answer") {
  // A station's answer (CBOR file) as the wallet reads it: TYPE (eth-signature or
  // sol-signature), FILE → JSON requestId, signature (hex).
  const [type, file] = args;
  const cbor = require("fs").readFileSync(file);
  const s = type === "eth-signature"
    ? eth.ETHSignature.fromCBOR(cbor)
    : require(process.env.KEYSTONE_SOL).SolSignature.fromCBOR(cbor);
  console.log(JSON.stringify({ requestId: s.getRequestId().toString("hex"), signature: s.getSignature().toString("hex") }));
} else {
  throw new Error("commands: decode, answer, ask-eth, ask-sol, read-answer");
}
