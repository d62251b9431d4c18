//! A regtest "chain" of real transactions for the Bitcoin tests: blocks whose funding
//! transactions pay vault addresses, with correct merkle roots and each header linked to
//! the one before (no proof of work: nothing here mines).

use bitcoin::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
};

/// The chain.
#[derive(Debug, Default)]
pub struct Chain {
    /// Blocks from height 1 (the wallet's genesis is height 0).
    pub blocks: Vec<Block>,
    /// Every transaction output created, for prevout lookups.
    pub outputs: std::collections::HashMap<OutPoint, TxOut>,
    salt: u32,
}

impl Chain {
    /// Height of the tip.
    pub fn height(&self) -> u32 {
        self.blocks.len() as u32
    }

    /// A funding transaction paying `outputs` (spending an outpoint outside this chain).
    pub fn funding(&mut self, outputs: Vec<TxOut>) -> Transaction {
        self.salt += 1;
        Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_byte_array([self.salt as u8; 32]),
                    vout: self.salt,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: outputs,
        }
    }

    /// Mines a block of `txs` (after a coinbase) on top of the tip, genesis being `genesis`.
    pub fn mine(&mut self, genesis: BlockHash, txs: Vec<Transaction>) -> Block {
        let height = self.height() + 1;
        let coinbase = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::from_bytes(vec![3, height as u8, (height >> 8) as u8, 0]),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(50_000),
                script_pubkey: ScriptBuf::new_op_return([]),
            }],
        };
        let mut txdata = vec![coinbase];
        txdata.extend(txs);
        for tx in &txdata {
            let txid = tx.compute_txid();
            for (i, o) in tx.output.iter().enumerate() {
                self.outputs.insert(
                    OutPoint {
                        txid,
                        vout: i as u32,
                    },
                    o.clone(),
                );
            }
        }
        let prev = self.blocks.last().map_or(genesis, |b| b.block_hash());
        let mut block = Block {
            header: Header {
                version: Version::TWO,
                prev_blockhash: prev,
                merkle_root: TxMerkleNode::all_zeros(),
                time: 1_700_000_000 + height * 600,
                bits: CompactTarget::from_consensus(0x207f_ffff),
                nonce: 0,
            },
            txdata,
        };
        block.header.merkle_root = block
            .compute_merkle_root()
            .unwrap_or(TxMerkleNode::all_zeros());
        self.blocks.push(block.clone());
        block
    }
}
