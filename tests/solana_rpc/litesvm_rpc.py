#!/usr/bin/env python3
"""A Solana JSON-RPC endpoint over LiteSVM (PyPI `solders`, `solders.litesvm`).

Every transaction sent here is executed by the real Solana runtime (system program,
SPL Token, Associated Token Account, compute budget). Only the RPC methods the
coordinator uses are implemented, in the real wire format:

  getLatestBlockhash, getAccountInfo (base64), getBalance, getSlot,
  getMinimumBalanceForRentExemption, sendTransaction (base64), getSignatureStatuses

and a few test-control methods (prefixed `test_`): airdrop, set a token mint or token
account, advance slots and expire the blockhash, report how many transactions landed.

Usage: litesvm_rpc.py PORT   (prints "ready" on stdout once listening)
"""

import base64
import json
import struct
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from solders.account import Account
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")

svm = LiteSVM()
statuses = {}  # signature (base58) -> (slot, err or None)


def coption_pubkey(p):
    if p is None:
        return struct.pack("<I", 0) + bytes(32)
    return struct.pack("<I", 1) + bytes(p)


def mint_data(authority, supply, decimals):
    return coption_pubkey(authority) + struct.pack("<QBB", supply, decimals, 1) + coption_pubkey(None)


def token_account_data(mint, owner, amount):
    return (
        bytes(mint)
        + bytes(owner)
        + struct.pack("<Q", amount)
        + coption_pubkey(None)
        + bytes([1])  # initialized
        + struct.pack("<I", 0) + bytes(8)  # not native
        + struct.pack("<Q", 0)
        + coption_pubkey(None)
    )


def set_program_account(address, data):
    lamports = svm.minimum_balance_for_rent_exemption(len(data))
    svm.set_account(
        Pubkey.from_string(address),
        Account(lamports=lamports, data=bytes(data), owner=TOKEN_PROGRAM, executable=False, rent_epoch=0),
    )


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def slot():
    return svm.get_clock().slot


def context(value):
    return {"context": {"slot": slot()}, "value": value}


def handle(method, params):
    if method == "getLatestBlockhash":
        return context({"blockhash": str(svm.latest_blockhash()), "lastValidBlockHeight": slot() + 150})
    if method == "getSlot":
        return slot()
    if method == "getBalance":
        return context(svm.get_balance(Pubkey.from_string(params[0])) or 0)
    if method == "getMinimumBalanceForRentExemption":
        return svm.minimum_balance_for_rent_exemption(int(params[0]))
    if method == "getAccountInfo":
        acct = svm.get_account(Pubkey.from_string(params[0]))
        if acct is None or (acct.lamports == 0 and len(acct.data) == 0):
            return context(None)
        return context(
            {
                "lamports": acct.lamports,
                "owner": str(acct.owner),
                "data": [base64.b64encode(bytes(acct.data)).decode(), "base64"],
                "executable": acct.executable,
                "rentEpoch": 0,
                "space": len(acct.data),
            }
        )
    if method == "sendTransaction":
        opts = params[1] if len(params) > 1 else {}
        if opts.get("encoding") != "base64":
            raise RpcError(-32602, "only base64 encoding is served here")
        try:
            tx = VersionedTransaction.from_bytes(base64.b64decode(params[0]))
        except Exception as e:  # noqa: BLE001 - any decoding failure is the client's
            raise RpcError(-32602, f"invalid transaction: {e}")
        sig = str(tx.signatures[0])
        res = svm.send_transaction(tx)
        if isinstance(res, FailedTransactionMetadata):
            # Preflight failure, as a real node reports it: nothing lands.
            logs = "; ".join(res.meta().logs())
            raise RpcError(-32002, f"Transaction simulation failed: {res.err()} (logs: {logs})")
        statuses[sig] = (slot(), None)
        # One transaction per slot, so "later" is observable.
        svm.warp_to_slot(slot() + 1)
        svm.expire_blockhash()
        return sig
    if method == "getSignatureStatuses":
        out = []
        for s in params[0]:
            if s in statuses:
                at, err = statuses[s]
                out.append(
                    {
                        "slot": at,
                        "confirmations": None,
                        "err": err,
                        "confirmationStatus": "finalized",
                    }
                )
            else:
                out.append(None)
        return context(out)
    # ---- test control
    if method == "test_airdrop":
        res = svm.airdrop(Pubkey.from_string(params[0]), int(params[1]))
        if isinstance(res, FailedTransactionMetadata):
            raise RpcError(-32000, f"airdrop failed: {res.err()}")
        return True
    if method == "test_setMint":
        authority = Pubkey.from_string(params[1])
        set_program_account(params[0], mint_data(authority, int(params[2]), int(params[3])))
        return True
    if method == "test_setTokenAccount":
        set_program_account(
            params[0],
            token_account_data(Pubkey.from_string(params[1]), Pubkey.from_string(params[2]), int(params[3])),
        )
        return True
    if method == "test_advanceSlots":
        svm.warp_to_slot(slot() + int(params[0]))
        svm.expire_blockhash()
        return slot()
    if method == "test_landed":
        return len(statuses)
    raise RpcError(-32601, f"method {method} not served here")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        try:
            length = int(self.headers.get("content-length", "0"))
            if length > 4 * 1024 * 1024:
                raise RpcError(-32600, "request too large")
            req = json.loads(self.rfile.read(length))
            rid = req.get("id")
            try:
                body = {"jsonrpc": "2.0", "id": rid, "result": handle(req["method"], req.get("params", []))}
            except RpcError as e:
                body = {"jsonrpc": "2.0", "id": rid, "error": {"code": e.code, "message": e.message}}
        except Exception as e:  # noqa: BLE001 - malformed request
            body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": str(e)}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    port = int(sys.argv[1])
    server = HTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
