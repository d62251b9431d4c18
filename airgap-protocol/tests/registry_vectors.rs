//! UR registry types against the reference vectors (tests/vectors/ur-registry).

use airgap_protocol::registry::*;
use airgap_protocol::ur::{parse_part, Received, UrEncoder, UrPart, UrReceiver};
use serde_json::Value;

fn load(name: &str) -> Value {
    let p = format!(
        "{}/tests/vectors/ur-registry/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn ur_cbor(ur: &str) -> (String, Vec<u8>) {
    match parse_part(ur).unwrap() {
        UrPart::Single { ur_type, message } => (ur_type, message),
        _ => panic!("single part expected"),
    }
}

fn vectors(v: &Value) -> &Vec<Value> {
    v["vectors"].as_array().unwrap()
}

/// The vectors of `name`, each with its CBOR.
fn each(name: &str) -> Vec<(Value, Vec<u8>)> {
    let v = load(name);
    vectors(&v)
        .iter()
        .map(|t| (t.clone(), hx(&t["cbor_hex"])))
        .collect()
}

/// A sign request (either chain) agrees with its vector and encodes back to it.
fn same_request(t: &Value, cbor: &[u8], sign_data: &[u8], path: &KeyPath, again: &[u8]) {
    let d = &t["decoded"];
    assert_eq!(sign_data, hx(&d["sign_data_hex"]));
    assert_eq!(path.path(), d["derivation_path"]["path"].as_str().unwrap());
    assert_eq!(again, cbor, "{}", t["name"]);
}

#[test]
fn crypto_psbt_both_forms() {
    let v = load("crypto-psbt.json");
    for t in vectors(&v) {
        let cbor = hx(&t["cbor_hex"]);
        assert_eq!(encode_psbt(&hx(&t["psbt_hex"])), cbor);
        assert_eq!(decode_psbt(&cbor).unwrap(), hx(&t["psbt_hex"]));
        for key in ["ur_crypto_psbt", "ur_psbt"] {
            if let Some(ur) = t.get(key).and_then(Value::as_str) {
                let (ty, msg) = ur_cbor(ur);
                assert!(ty == "crypto-psbt" || ty == "psbt");
                assert_eq!(msg, cbor);
            }
        }
        // Our encoder emits crypto-psbt, single part when it fits.
        let mut enc = UrEncoder::new("crypto-psbt", &cbor, 1000).unwrap();
        assert_eq!(
            enc.next_part().to_ascii_lowercase(),
            t["ur_crypto_psbt"].as_str().unwrap()
        );
    }
}

#[test]
fn crypto_psbt_keystone_multipart_stream() {
    let v = load("crypto-psbt.json");
    let m = &v["multipart"];
    let cbor = hx(&m["cbor_hex"]);
    let mut enc = UrEncoder::new("crypto-psbt", &cbor, 400).unwrap();
    for p in m["parts"].as_array().unwrap() {
        assert_eq!(
            enc.next_part().to_ascii_lowercase(),
            p["ur"].as_str().unwrap()
        );
    }
    // Keystone's cyclic sequence decodes with our receiver.
    let mut rx = UrReceiver::default();
    let mut done = None;
    for ur in m["cyclic_sequence"].as_array().unwrap() {
        if let Received::Complete { message, .. } = rx.receive(ur.as_str().unwrap()).unwrap() {
            done = Some(message);
        }
    }
    assert_eq!(decode_psbt(&done.unwrap()).unwrap(), hx(&m["psbt_hex"]));
}

#[test]
fn crypto_keypath() {
    let v = load("crypto-keypath.json");
    for t in vectors(&v) {
        let cbor = hx(&t["cbor_hex"]);
        let kp = KeyPath::from_cbor(&cbor).unwrap();
        assert_eq!(kp.path(), t["decoded"]["path"].as_str().unwrap());
        assert_eq!(
            kp.source_fingerprint,
            Some(
                u32::from_str_radix(t["decoded"]["source_fingerprint_hex"].as_str().unwrap(), 16)
                    .unwrap()
            )
        );
        // UR carries the untagged form.
        let tagged = kp.to_cbor();
        assert_eq!(&tagged[3..], &cbor[..]);
        assert_eq!(ur_cbor(t["ur"].as_str().unwrap()).1, cbor);
    }
}

#[test]
fn crypto_hdkey_v1_and_v2() {
    let v = load("crypto-hdkey.json");
    let list = vectors(&v);
    assert!(list.len() >= 10);
    for t in list {
        let cbor = hx(&t["cbor_hex"]);
        let k = HdKey::from_cbor(&cbor).unwrap();
        assert_eq!(k.to_cbor(), cbor, "{}", t["name"]);
        let d = &t["decoded"];
        assert_eq!(k.key_data.to_vec(), hx(&d["key_data_hex"]));
        if let Some(o) = d.get("origin") {
            assert_eq!(
                k.origin.as_ref().unwrap().path(),
                o["path"].as_str().unwrap()
            );
        }
        assert_eq!(ur_cbor(t["ur"].as_str().unwrap()).1, cbor);
    }
}

#[test]
fn eth_sign_request_and_signature() {
    for (t, cbor) in each("eth-sign-request.json") {
        let r = EthSignRequest::from_cbor(&cbor).unwrap();
        same_request(&t, &cbor, &r.sign_data, &r.derivation_path, &r.to_cbor());
        let d = &t["decoded"];
        assert_eq!(r.chain_id, d.get("chain_id").and_then(Value::as_i64));
        assert_eq!(r.origin.as_deref(), d.get("origin").and_then(Value::as_str));
        r.require_transaction().unwrap();
        if let Some(ur) = t.get("ur").and_then(Value::as_str) {
            assert_eq!(ur_cbor(ur), ("eth-sign-request".to_string(), cbor));
        }
    }
    for (t, cbor) in each("eth-signature.json") {
        let s = EthSignature::from_cbor(&cbor).unwrap();
        assert_eq!(s.signature.to_vec(), hx(&t["decoded"]["signature_hex"]));
        assert_eq!(s.to_cbor(), cbor);
        assert_eq!(ur_cbor(t["ur"].as_str().unwrap()).1, cbor);
    }
}

#[test]
fn fail_eip712_and_personal_message_are_refused_politely() {
    let v = load("eth-sign-request.json");
    let mut r = EthSignRequest::from_cbor(&hx(&vectors(&v)[0]["cbor_hex"])).unwrap();
    for t in [EthDataType::TypedData, EthDataType::PersonalMessage] {
        r.data_type = t;
        let again = EthSignRequest::from_cbor(&r.to_cbor()).unwrap();
        assert!(
            matches!(again.require_transaction(), Err(RegistryError::Unsupported(m)) if m.contains("only transactions"))
        );
    }
}

#[test]
fn sol_sign_request_and_signature() {
    for (t, cbor) in each("sol-sign-request.json") {
        let r = SolSignRequest::from_cbor(&cbor).unwrap();
        same_request(&t, &cbor, &r.sign_data, &r.derivation_path, &r.to_cbor());
    }
    for (t, cbor) in each("sol-signature.json") {
        let s = SolSignature::from_cbor(&cbor).unwrap();
        assert_eq!(s.to_cbor(), cbor);
        assert_eq!(ur_cbor(t["ur"].as_str().unwrap()).1, cbor);
    }
}

#[test]
fn fail_registry_decoders_refuse_garbage() {
    let v = load("eth-sign-request.json");
    let cbor = hx(&vectors(&v)[0]["cbor_hex"]);
    for cut in 0..cbor.len() {
        assert!(EthSignRequest::from_cbor(&cbor[..cut]).is_err());
    }
    // Duplicate key: map of 2 with key 2 twice.
    assert!(matches!(
        EthSignature::from_cbor(&[0xa2, 0x03, 0x60, 0x03, 0x60]),
        Err(RegistryError::Duplicate { .. })
    ));
    assert!(HdKey::from_cbor(&[0xa0]).is_err());
    assert!(KeyPath::parse("m/44'/60'/0'/0/0", None).is_some());
    assert!(KeyPath::parse("m/44'/x", None).is_none());
    assert!(KeyPath::parse("m/4294967295", None).is_none());
}
