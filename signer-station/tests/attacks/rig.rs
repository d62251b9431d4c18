//! The attack rig: a MockHsm station whose policy allows several networks of each chain
//! (so that mislabelling has somewhere to go), registers a ranged 2-of-3 vault with two
//! hardware-wallet cosigners, internal destinations and per-purpose approvals; and
//! builders for what a compromised coordinator would send it.

use airgap_protocol::envelope::*;
use airgap_protocol::network::{BitcoinNetwork, SolanaCluster};
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpriv, Xpub};
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{
    absolute, transaction, Amount, CompressedPublicKey, OutPoint, PublicKey, ScriptBuf, Sequence,
    Transaction, TxIn, TxOut, Witness,
};
use miniscript::{Descriptor, DescriptorPublicKey};
use signer_station::ledger::{Entry, Record};
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit, Policy, RegisteredVault};
use signer_station::station::{Refusal, Station};

use crate::common::{self, Harness, NOW};

pub const ETH: u128 = 1_000_000_000_000_000_000;
pub const SOL: u64 = 1_000_000_000;
pub const EVM_TO: &str = "0x52908400098527886E0F7030069857D2E4169EE7";
pub const EVM_INTERNAL: &str = "0x1111111111111111111111111111111111111111";
pub const EVM_OK_CONTRACT: &str = "0x2222222222222222222222222222222222222222";
pub const EVM_TOKEN: &str = "0x3333333333333333333333333333333333333333";
pub const EVM_ATTACKER: &str = "0x6666666666666666666666666666666666666666";
pub const SOL_MINT: [u8; 32] = [8; 32];
pub const SOL_OK_PROGRAM: [u8; 32] = [9; 32];

pub fn b58(k: [u8; 32]) -> String {
    bs58::encode(k).into_string()
}

/// A P2WPKH address of test key `n` on a network.
pub fn addr(n: u8, net: bitcoin::Network) -> bitcoin::Address {
    let sk = SecretKey::from_slice(&[n; 32]).unwrap();
    bitcoin::Address::p2wpkh(&CompressedPublicKey(sk.public_key(&Secp256k1::new())), net)
}

pub fn pay(n: u8) -> ScriptBuf {
    addr(n, bitcoin::Network::Regtest).script_pubkey()
}

/// A hardware-wallet cosigner of the vault: account xpriv at m/48'/1'/0'/2'.
pub struct Cosigner {
    pub master_fp: Fingerprint,
    pub account: Xpriv,
    pub path: DerivationPath,
}

impl Cosigner {
    fn new(seed: u8) -> Self {
        let secp = Secp256k1::new();
        let master = Xpriv::new_master(bitcoin::NetworkKind::Test, &[seed; 32]).unwrap();
        let path: DerivationPath = "m/48'/1'/0'/2'".parse().unwrap();
        Self {
            master_fp: master.fingerprint(&secp),
            account: master.derive_priv(&secp, &path).unwrap(),
            path,
        }
    }
    pub fn descriptor_key(&self) -> String {
        let xpub = Xpub::from_priv(&Secp256k1::new(), &self.account);
        let p = self.path.to_string();
        format!(
            "[{}/{}]{xpub}/<0;1>/*",
            self.master_fp,
            p.trim_start_matches("m/")
        )
    }
    pub fn child(&self, branch: u32, index: u32) -> (bitcoin::secp256k1::PublicKey, SecretKey) {
        let secp = Secp256k1::new();
        let path = [
            ChildNumber::Normal { index: branch },
            ChildNumber::Normal { index },
        ];
        let k = self.account.derive_priv(&secp, &path).unwrap();
        (k.private_key.public_key(&secp), k.private_key)
    }
    pub fn full_path(&self, branch: u32, index: u32) -> DerivationPath {
        self.path.extend([
            ChildNumber::Normal { index: branch },
            ChildNumber::Normal { index },
        ])
    }
}

/// (branch, index) in the vault: receive 0, change 1.
pub type VaultPath = (u32, u32);

pub struct Rig {
    pub h: Harness,
    pub cosigners: [Cosigner; 2],
    pub vault: Descriptor<DescriptorPublicKey>,
    /// Digest of the last request attempted.
    pub last: Option<[u8; 32]>,
    /// Signings of that digest in the ledger before the attempt.
    signed_before: usize,
    salt: u32,
}

fn limit(network: &str, asset: &str, tx: u128, day: u128) -> AssetLimit {
    AssetLimit::new(network, asset, tx, day)
}

fn dest(network: &str, address: &str) -> Destination {
    Destination::new(network, address)
}

fn fee(network: &str, max: u128, per_mille: u64) -> FeeLimit {
    FeeLimit::new(network, max, per_mille)
}

pub fn attack_policy(vault: &str) -> Policy {
    use bitcoin::Network::*;
    let mut p = common::policy();
    p.networks = [
        "regtest",
        "testnet",
        "bitcoin",
        "evm:1",
        "evm:56",
        "evm:137",
        "solana:devnet",
        "solana:mainnet-beta",
    ]
    .map(String::from)
    .to_vec();
    p.limits = vec![
        limit("regtest", "native", 100_000, 150_000),
        limit("testnet", "native", 100_000, 150_000),
        limit("bitcoin", "native", 100_000, 150_000),
        limit("evm:1", "native", 2 * ETH, 3 * ETH),
        limit("evm:56", "native", 1_000 * ETH, 1_000 * ETH),
        limit("evm:137", "native", 1_000 * ETH, 1_000 * ETH),
        limit("evm:1", EVM_TOKEN, 1_000_000_000, 2_000_000_000),
        limit(
            "solana:devnet",
            "native",
            5 * u128::from(SOL),
            8 * u128::from(SOL),
        ),
        limit("solana:devnet", &b58(SOL_MINT), 50_000_000, 100_000_000),
        limit(
            "solana:mainnet-beta",
            "native",
            1_000 * u128::from(SOL),
            1_000 * u128::from(SOL),
        ),
    ];
    p.allow_list = vec![
        dest("regtest", &addr(2, Regtest).to_string()),
        dest("testnet", &addr(2, Testnet).to_string()),
        dest("bitcoin", &addr(2, Bitcoin).to_string()),
        dest("evm:1", EVM_TO),
        dest("evm:56", EVM_TO),
        dest("evm:137", EVM_TO),
        dest("evm:1", EVM_OK_CONTRACT),
        dest("solana:devnet", &b58([2; 32])),
        dest("solana:devnet", &b58([3; 32])),
        dest("solana:devnet", &b58(SOL_OK_PROGRAM)),
        dest("solana:mainnet-beta", &b58([2; 32])),
    ];
    p.internal = vec![
        dest("regtest", &addr(4, Regtest).to_string()),
        dest("evm:1", EVM_INTERNAL),
        dest("solana:devnet", &b58([4; 32])),
    ];
    p.approvals = 2;
    p.approvals_per_purpose = vec![
        ("consolidation".into(), 1),
        ("refill".into(), 1),
        ("key-registration".into(), 1),
    ];
    p.fees = vec![
        fee("regtest", 20_000, 100),
        fee("testnet", 20_000, 100),
        fee("bitcoin", 20_000, 100),
        fee("evm:1", ETH / 100, 50),
        fee("evm:56", ETH / 100, 50),
        fee("evm:137", ETH / 100, 50),
        fee("solana:devnet", 100_000, 10),
        fee("solana:mainnet-beta", 100_000, 10),
    ];
    p.vaults = vec![RegisteredVault {
        name: "cold".into(),
        network: "regtest".into(),
        descriptor: vault.into(),
        deposit: false,
    }];
    p
}

impl Rig {
    pub fn new(name: &str) -> Self {
        Self::with(name, |_| {})
    }

    pub fn with(name: &str, tweak: impl FnOnce(&mut Policy)) -> Self {
        let cosigners = [Cosigner::new(41), Cosigner::new(42)];
        let mut desc = String::new();
        let h = common::station_with(&format!("attack-{name}"), |keys| {
            let station =
                PublicKey::from_slice(&keys.bitcoin(BitcoinNetwork::Regtest).unwrap().public_key)
                    .unwrap();
            desc = format!(
                "wsh(sortedmulti(2,{station},{},{}))",
                cosigners[0].descriptor_key(),
                cosigners[1].descriptor_key()
            );
            let mut p = attack_policy(&desc);
            tweak(&mut p);
            p
        });
        let vault = desc.parse().unwrap();
        Self {
            h,
            cosigners,
            vault,
            last: None,
            signed_before: 0,
            salt: 0,
        }
    }

    // ---- requests

    /// A request approved by `approvers` (keys 10, 11, 12 are pinned) for `purpose`,
    /// signed by the coordinator key the station pins: what a compromised coordinator
    /// with approver keys it controls can produce.
    pub fn request_as(
        &self,
        payloads: Vec<Payload>,
        purpose: Purpose,
        approvers: &[u8],
    ) -> SignRequest {
        let mut r = common::request(payloads);
        r.purpose = purpose;
        r.approvals.clear();
        for a in approvers {
            r.approve_with(&common::key(*a));
        }
        r.sign_with(&common::key(1));
        r
    }

    pub fn request(&self, payloads: Vec<Payload>) -> SignRequest {
        self.request_as(payloads, Purpose::Withdrawal, &[10, 11])
    }

    /// Notes the request about to be attempted.
    pub fn expect(&mut self, req: &SignRequest) {
        self.last = Some(req.digest());
        self.signed_before = self.signings_of(&hex::encode(req.digest()));
    }

    fn signings_of(&self, digest: &str) -> usize {
        self.entries()
            .iter()
            .filter(|x| matches!(&x.record, Record::Signed { digest: d, .. } if d == digest))
            .count()
    }

    /// Reviews and, if the review passes, signs.
    pub fn attempt(&mut self, req: &SignRequest) -> Result<SignResponse, Refusal> {
        self.expect(req);
        let review = self.h.station.review(req, NOW)?;
        review.verdict.clone()?;
        self.h.station.sign(&review, &self.h.hsm, NOW)
    }

    /// Sends `payloads` in a request approved twice, as [`Self::attempt`].
    pub fn send(&mut self, payloads: Vec<Payload>) -> Result<SignResponse, Refusal> {
        let req = self.request(payloads);
        self.attempt(&req)
    }

    /// Signs a request that must be signed (the setup before an attack).
    pub fn sign_ok(&mut self, req: &SignRequest) -> SignResponse {
        let r = self.attempt(req);
        let resp = r.unwrap_or_else(|e| panic!("setup request refused: {e}"));
        assert!(matches!(resp.outcome, Outcome::Signed(_)));
        resp
    }

    pub fn station(&mut self) -> &mut Station {
        &mut self.h.station
    }

    // ---- ledger

    pub fn entries(&self) -> Vec<Entry> {
        std::fs::read_to_string(&self.h.ledger_path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The attack was refused with `code`, nothing was released, and the ledger says so.
    /// Attempts `req`, which must be refused with `code` (nothing signed).
    pub fn refuses(&mut self, req: &SignRequest, code: u16) {
        let result = self.attempt(req);
        self.assert_refused(result, code);
    }

    pub fn assert_refused(&self, result: Result<SignResponse, Refusal>, code: u16) {
        let e = match result {
            Ok(resp) => panic!("SIGNED what must be refused: {:?}", resp.outcome),
            Err(e) => e,
        };
        assert_eq!(e.code(), code, "refused, but for another reason: {e}");
        let digest = hex::encode(self.last.expect("an attempt"));
        let entries = self.entries();
        assert!(
            entries.iter().any(|x| matches!(&x.record,
                Record::Refused { digest: d, code: c, .. } if *d == digest && *c == code)),
            "the ledger does not record the refusal ({code}) of {digest}"
        );
        assert_eq!(
            self.signings_of(&digest),
            self.signed_before,
            "the ledger records a signing of the attack"
        );
    }

    /// The control was signed and recorded.
    pub fn assert_signed(&self, result: Result<SignResponse, Refusal>) -> SignResponse {
        let resp = result.unwrap_or_else(|e| panic!("refused a legitimate request: {e}"));
        assert!(matches!(resp.outcome, Outcome::Signed(_)));
        let digest = hex::encode(self.last.expect("an attempt"));
        assert_eq!(self.signings_of(&digest), self.signed_before + 1);
        resp
    }

    // ---- Bitcoin

    pub fn btc_key(&self, n: BitcoinNetwork) -> PublicKey {
        PublicKey::from_slice(&self.h.keys.bitcoin(n).unwrap().public_key).unwrap()
    }

    /// The station's single-key script on a network.
    pub fn single(&self, n: BitcoinNetwork) -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&self.btc_key(n).wpubkey_hash().unwrap())
    }

    /// The vault's script at (branch, index).
    pub fn vault_script(&self, branch: u32, index: u32) -> ScriptBuf {
        let d = self.vault.clone().into_single_descriptors().unwrap();
        d[branch as usize]
            .at_derivation_index(index)
            .unwrap()
            .script_pubkey()
    }

    pub fn vault_witness_script(&self, branch: u32, index: u32) -> ScriptBuf {
        let d = self.vault.clone().into_single_descriptors().unwrap();
        d[branch as usize]
            .at_derivation_index(index)
            .unwrap()
            .explicit_script()
            .unwrap()
    }

    /// The bait: a 1-of-2 multisig of the station's regtest key and the attacker's.
    pub fn bait(&self) -> (ScriptBuf, ScriptBuf) {
        let attacker = PublicKey::new(
            SecretKey::from_slice(&[66; 32])
                .unwrap()
                .public_key(&Secp256k1::new()),
        );
        let ws = bitcoin::blockdata::script::Builder::new()
            .push_int(1)
            .push_key(&self.btc_key(BitcoinNetwork::Regtest))
            .push_key(&attacker)
            .push_int(2)
            .push_opcode(bitcoin::opcodes::all::OP_CHECKMULTISIG)
            .into_script();
        (ScriptBuf::new_p2wsh(&ws.wscript_hash()), ws)
    }

    /// A previous transaction paying `value` to `script`.
    pub fn coin(&mut self, script: ScriptBuf, value: u64) -> Transaction {
        self.salt += 1;
        Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::from_consensus(self.salt),
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: script,
            }],
        }
    }

    /// BIP-32 derivations of the vault's cosigner keys at (branch, index).
    pub fn derivations(
        &self,
        branch: u32,
        index: u32,
    ) -> std::collections::BTreeMap<bitcoin::secp256k1::PublicKey, (Fingerprint, DerivationPath)>
    {
        self.cosigners
            .iter()
            .map(|c| {
                (
                    c.child(branch, index).0,
                    (c.master_fp, c.full_path(branch, index)),
                )
            })
            .collect()
    }

    /// A PSBT spending `inputs` (previous tx, vault path to declare) to `outputs`
    /// (script, value, vault path to declare).
    pub fn psbt(
        &self,
        inputs: &[(&Transaction, Option<VaultPath>)],
        outputs: &[(ScriptBuf, u64, Option<VaultPath>)],
    ) -> bitcoin::psbt::Psbt {
        let tx = Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: inputs
                .iter()
                .map(|(prev, _)| TxIn {
                    previous_output: OutPoint {
                        txid: prev.compute_txid(),
                        vout: 0,
                    },
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                })
                .collect(),
            output: outputs
                .iter()
                .map(|(s, v, _)| TxOut {
                    value: Amount::from_sat(*v),
                    script_pubkey: s.clone(),
                })
                .collect(),
        };
        let mut psbt = bitcoin::psbt::Psbt::from_unsigned_tx(tx).unwrap();
        for (i, (prev, at)) in inputs.iter().enumerate() {
            psbt.inputs[i].non_witness_utxo = Some((*prev).clone());
            psbt.inputs[i].witness_utxo = Some(prev.output[0].clone());
            if let Some((b, n)) = at {
                psbt.inputs[i].bip32_derivation = self.derivations(*b, *n);
                psbt.inputs[i].witness_script = Some(self.vault_witness_script(*b, *n));
            }
        }
        for (i, (_, _, at)) in outputs.iter().enumerate() {
            if let Some((b, n)) = at {
                psbt.outputs[i].bip32_derivation = self.derivations(*b, *n);
            }
        }
        psbt
    }

    /// A vault coin at receive index `i`.
    pub fn vault_coin(&mut self, i: u32, value: u64) -> Transaction {
        let s = self.vault_script(0, i);
        self.coin(s, value)
    }

    /// A station single-key coin on regtest.
    pub fn single_coin(&mut self, value: u64) -> Transaction {
        let s = self.single(BitcoinNetwork::Regtest);
        self.coin(s, value)
    }

    // ---- EVM

    pub fn evm_address(&self) -> [u8; 20] {
        common::evm_address(&self.h.keys)
    }

    // ---- Solana

    pub fn sol_key(&self, c: SolanaCluster) -> [u8; 32] {
        self.h
            .keys
            .solana(c)
            .unwrap()
            .public_key
            .clone()
            .try_into()
            .unwrap()
    }
}

pub fn btc_payload(psbt: &bitcoin::psbt::Psbt, label: &str) -> Payload {
    let mut p = common::btc_payload(psbt);
    p.network = label.into();
    p
}

/// A P2WPKH address of the station key of another network, as a script.
pub fn single_of(keys: &signer_station::keys::StationKeys, n: BitcoinNetwork) -> ScriptBuf {
    let pk = PublicKey::from_slice(&keys.bitcoin(n).unwrap().public_key).unwrap();
    ScriptBuf::new_p2wpkh(&pk.wpubkey_hash().unwrap())
}
