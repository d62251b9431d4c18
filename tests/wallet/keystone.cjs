// The Keystone registry's side of a hardware-wallet approval (npm
// `@keystonehq/bc-ur-registry-eth`, the encoder and decoder Keystone's own software
// uses), as an independent check of what the coordinator emits and reads.
//   decode PART...          an eth-sign-request's UR parts → JSON: requestId (hex),
//                           dataType, signData (text), path, xfp (hex)
//   answer REQUEST_ID SIG   an eth-signature for request REQUEST_ID (hex) carrying SIG
//                           (65 bytes, hex) → its UR parts, one a line
// Usage: node keystone.cjs COMMAND ... (env KEYSTONE: the package's path)
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
} else {
  throw new Error("commands: decode, answer");
}
