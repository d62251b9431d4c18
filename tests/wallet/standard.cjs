// Reads the coordinator's standard requests with the Keystone registry (npm
// `@keystonehq/bc-ur-registry`, `-eth`, `-sol`): the UR parts of one request on the
// command line → JSON: its type and fields (bytes as hex).
// Usage: node standard.cjs PART... (env KEYSTONE, KEYSTONE_SOL: the packages' paths)
"use strict";
const eth = require(process.env.KEYSTONE);
const sol = require(process.env.KEYSTONE_SOL);

const decoder = new eth.URRegistryDecoder();
for (const part of process.argv.slice(2)) decoder.receivePart(part);
if (!decoder.isSuccess()) throw new Error("the parts do not complete a UR");
const ur = decoder.resultUR();
const hex = (b) => (b ? Buffer.from(b).toString("hex") : null);
let out;
if (ur.type === "crypto-psbt") {
  out = { type: ur.type, psbt: hex(eth.CryptoPSBT.fromCBOR(ur.cbor).getPSBT()) };
} else if (ur.type === "eth-sign-request") {
  const r = eth.EthSignRequest.fromCBOR(ur.cbor);
  out = { type: ur.type, requestId: hex(r.getRequestId()), dataType: r.getDataType(), signData: hex(r.getSignData()),
    chainId: r.getChainId(), address: hex(r.getSignRequestAddress()), origin: r.getOrigin() };
} else if (ur.type === "sol-sign-request") {
  const r = sol.SolSignRequest.fromCBOR(ur.cbor);
  out = { type: ur.type, requestId: hex(r.getRequestId()), signData: hex(r.getSignData()), signType: r.getSignType(),
    address: hex(r.getSignRequestAddress()), origin: r.getOrigin() };
} else {
  throw new Error("not a standard request: " + ur.type);
}
console.log(JSON.stringify(out));
