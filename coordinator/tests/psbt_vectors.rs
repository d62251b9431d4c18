//! BIP-174 and BIP-370 test vectors (copied from the shared vector set into
//! `tests/vectors/psbt/`) through the PSBT code the coordinator uses: rust-bitcoin for
//! version 0, psbt-v2 for version 2 and the conversion between them, rust-bitcoin's
//! combiner, miniscript's finaliser and the extractor. The coordinator never signs; the
//! signer steps are checked with rust-bitcoin's signer so the combiner has real input.

use std::collections::BTreeMap;

use bdk_wallet::bitcoin::bip32::{DerivationPath, Fingerprint, Xpriv};
use bdk_wallet::bitcoin::consensus::encode::serialize_hex;
use bdk_wallet::bitcoin::psbt::{GetKey, KeyRequest, Psbt};
use bdk_wallet::bitcoin::secp256k1::{Secp256k1, Signing};
use bdk_wallet::bitcoin::PrivateKey;
use bdk_wallet::miniscript::psbt::PsbtExt;
use coordinator::bitcoin::v2;
use serde_json::Value;

fn load(name: &str) -> Value {
    let p = format!("{}/tests/vectors/psbt/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v["hex"].as_str().unwrap()).unwrap()
}

/// The `valid` (or `invalid`) vectors of `v`, each with its bytes and description.
fn cases<'v>(v: &'v Value, which: &str) -> impl Iterator<Item = (Vec<u8>, &'v Value)> {
    let list = v[which].as_array().unwrap();
    list.iter().map(|t| (bytes(t), &t["description"]))
}

#[test]
fn bip174_valid_and_invalid_parse_and_round_trip_unchanged() {
    let v = load("bip174_vectors.json");
    for (b, what) in cases(&v, "valid") {
        let p = Psbt::deserialize(&b).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(p.serialize(), b, "{what}");
    }
    for (b, what) in cases(&v, "invalid") {
        assert!(Psbt::deserialize(&b).is_err(), "accepted: {what}");
        // Neither version's parser takes it.
        assert!(v2::deserialize_any(&b).is_err(), "{what}");
    }
}

/// A key source answering with the vector's WIF keys.
struct Keys(BTreeMap<bdk_wallet::bitcoin::PublicKey, PrivateKey>);

impl GetKey for Keys {
    type Error = std::convert::Infallible;
    fn get_key<C: Signing>(
        &self,
        key_request: KeyRequest,
        secp: &Secp256k1<C>,
    ) -> Result<Option<PrivateKey>, Self::Error> {
        let _ = secp;
        Ok(match key_request {
            KeyRequest::Pubkey(pk) => self.0.get(&pk).copied(),
            KeyRequest::Bip32((fp, path)) => {
                let _: (Fingerprint, DerivationPath) = (fp, path);
                None
            }
            _ => None,
        })
    }
}

#[test]
fn bip174_workflow_sign_combine_finalize_extract() {
    let v = load("bip174_vectors.json");
    let steps = v["workflow"]["steps"].as_array().unwrap();
    let psbt_of = |s: &Value| Psbt::deserialize(&bytes(&s["expected_psbt"])).unwrap();
    let step3 = psbt_of(&steps[2]);
    let secp = Secp256k1::new();
    let _ = Xpriv::new_master(bdk_wallet::bitcoin::Network::Testnet, &[0; 32]);
    let mut signed = Vec::new();
    for s in &steps[3..5] {
        let mut keys = BTreeMap::new();
        for k in s["keys"].as_array().unwrap() {
            let sk = PrivateKey::from_wif(k["wif"].as_str().unwrap()).unwrap();
            keys.insert(sk.public_key(&secp), sk);
        }
        let mut p = step3.clone();
        p.sign(&Keys(keys), &secp).unwrap();
        assert_eq!(p, psbt_of(s), "{}", s["role"]);
        signed.push(p);
    }
    // Combiner (what coordinator::bitcoin::combine merges with).
    let mut combined = signed[0].clone();
    combined.combine(signed[1].clone()).unwrap();
    assert_eq!(combined, psbt_of(&steps[5]));
    // Finaliser and extractor.
    combined.finalize_mut(&secp).unwrap();
    assert_eq!(combined, psbt_of(&steps[6]));
    let tx = combined.extract_tx_unchecked_fee_rate();
    assert_eq!(
        serialize_hex(&tx),
        steps[7]["expected_tx_hex"].as_str().unwrap()
    );

    // And a combination that fails: unknown keys merged in order.
    let c = &v["workflow"]["combiner_unknown_keys"];
    let ins: Vec<Psbt> = c["input_psbts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Psbt::deserialize(&bytes(p)).unwrap())
        .collect();
    let mut merged = ins[0].clone();
    merged.combine(ins[1].clone()).unwrap();
    assert_eq!(merged.serialize(), bytes(&c["expected"]));
}

#[test]
fn bip370_valid_invalid_and_locktimes() {
    let v = load("bip370_vectors.json");
    for (b, what) in cases(&v, "valid") {
        let p = v2::parse_v2(&b).unwrap_or_else(|e| panic!("{what}: {e}"));
        // psbt-v2 writes keys in its own order; what it writes reads back the same.
        let again = v2::parse_v2(&p.serialize()).unwrap();
        assert_eq!(again, p, "{what}");
    }
    let accepted: Vec<String> = cases(&v, "invalid")
        .filter(|(b, _)| v2::parse_v2(b).is_ok())
        .map(|(_, what)| what.to_string())
        .collect();
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
    for t in v["locktime_determination"].as_array().unwrap() {
        let p = v2::parse_v2(&bytes(t)).unwrap();
        let got = p.determine_lock_time().ok().map(|l| l.to_consensus_u32());
        let want = t["expected_locktime"].as_u64().map(|n| n as u32);
        assert_eq!(got, want, "{}", t["description"]);
        // Converted to version 0 where a lock time exists, and back.
        if let Some(l) = want {
            let v0 = v2::from_v2(&p).unwrap();
            assert_eq!(v0.unsigned_tx.lock_time.to_consensus_u32(), l);
        }
    }
}
