//! Conformance against the Blockchain Commons UR vectors (copied under tests/vectors/ur).

use airgap_protocol::ur::{
    parse_part, FountainPart, Received, UrEncoder, UrError, UrPart, UrReceiver,
};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/ur/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hexs(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn encoder_emits_the_reference_20_part_stream() {
    let v = load("fountain_encoder.json");
    let message = hexs(&v["ur_parts"]["ur_message_hex"]);
    let mut enc = UrEncoder::new("bytes", &message, 30).unwrap();
    assert_eq!(enc.fragment_count(), 9);
    for p in v["ur_parts"]["parts"].as_array().unwrap() {
        let part = enc.next_part();
        assert_eq!(part.to_ascii_lowercase(), p["ur"].as_str().unwrap());
        assert_eq!(
            part,
            part.to_ascii_uppercase(),
            "parts are upper case for QR alphanumeric mode"
        );
    }
}

#[test]
fn parsed_parts_match_reference_fields_and_mix_indexes() {
    let v = load("fountain_encoder.json");
    for p in v["ur_parts"]["parts"].as_array().unwrap() {
        let UrPart::Multi { ur_type, part } = parse_part(p["ur"].as_str().unwrap()).unwrap() else {
            panic!("multipart expected")
        };
        assert_eq!(ur_type, "bytes");
        assert_eq!(u64::from(part.seq), p["seqNum"].as_u64().unwrap());
        assert_eq!(
            u64::from(part.message_len),
            p["messageLen"].as_u64().unwrap()
        );
        assert_eq!(u64::from(part.checksum), p["checksum"].as_u64().unwrap());
        assert_eq!(part.data, hexs(&p["fragment_hex"]));
        assert_eq!(part.to_cbor(), hexs(&p["part_cbor_hex"]));
        let want: Vec<usize> = serde_json::from_value(p["mixed_fragment_indexes"].clone()).unwrap();
        let mut got = part.fragment_indexes().unwrap();
        got.sort_unstable();
        assert_eq!(got, want);
    }
}

#[test]
fn fragment_chooser_matches_reference() {
    let v = load("fountain.json");
    let c = &v["choose_fragments"];
    let seq_len = c["seq_len"].as_u64().unwrap() as u32;
    let checksum = c["checksum_uint32"].as_u64().unwrap() as u32;
    for (i, want) in c["expected_indexes"].as_array().unwrap().iter().enumerate() {
        let part = FountainPart {
            seq: i as u32 + 1,
            seq_len,
            message_len: 1024,
            checksum,
            data: vec![0; 94],
        };
        let mut got = part.fragment_indexes().unwrap();
        got.sort_unstable();
        let want: Vec<usize> = serde_json::from_value(want.clone()).unwrap();
        assert_eq!(got, want, "seqNum {}", i + 1);
    }
}

#[test]
fn part_cbor_is_canonical() {
    let v = load("fountain.json");
    let p = &v["part_cbor"]["part"];
    let part = FountainPart {
        seq: 12,
        seq_len: 8,
        message_len: 100,
        checksum: p["checksum"].as_u64().unwrap() as u32,
        data: hexs(&p["data_hex"]),
    };
    assert_eq!(part.to_cbor(), hexs(&v["part_cbor"]["cbor_hex"]));
}

#[test]
fn single_part_vectors_decode_and_reencode() {
    let v = load("ur.json");
    for s in v["single_part"].as_array().unwrap() {
        let ur = s["ur"].as_str().unwrap();
        let UrPart::Single { ur_type, message } = parse_part(ur).unwrap() else {
            panic!("single expected: {ur}")
        };
        assert_eq!(ur_type, s["type"].as_str().unwrap());
        assert_eq!(message, hexs(&s["cbor_hex"]));
        let mut enc = UrEncoder::new(&ur_type, &message, 10_000).unwrap();
        assert_eq!(
            enc.next_part().to_ascii_lowercase(),
            ur.to_ascii_lowercase()
        );
    }
}

#[test]
fn decoder_accepts_and_rejects_reference_strings() {
    let v = load("ur.json");
    for ok in v["decoder"]["valid"].as_array().unwrap() {
        let input = ok["input"].as_str().unwrap();
        let UrPart::Single { message, .. } = parse_part(input).unwrap() else {
            panic!("{input}")
        };
        assert_eq!(message, hexs(&ok["expected_payload_hex"]), "{input}");
    }
    let invalid = v["decoder"]["invalid"].as_array().unwrap();
    assert!(invalid.len() >= 5);
    for bad in invalid {
        let input = bad["input"].as_str().unwrap();
        assert!(
            parse_part(input).is_err(),
            "must reject {input}: {}",
            bad["error"]
        );
    }
}

#[test]
fn fail_part_cbor_decode_rejections() {
    let v = load("fountain.json");
    let cases = &v["part_cbor_decode"];
    let invalid = cases["invalid"].as_array().unwrap();
    assert!(!invalid.is_empty());
    for bad in invalid {
        let cbor = hexs(&bad["cbor_hex"]);
        let text = format!(
            "ur:bytes/1-1/{}",
            ur::bytewords::encode(&cbor, ur::bytewords::Style::Minimal)
        );
        assert!(
            parse_part(&text).is_err(),
            "must reject {}",
            bad["cbor_hex"]
        );
    }
}

#[test]
fn rateless_only_stream_completes() {
    // BCR-2024-001 decoder scenario: 32767-byte message, fragments of up to 1000 bytes,
    // the receiver sees only parts after seqNum 100 (every one a mix).
    let message: Vec<u8> = (0..32767u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut enc = UrEncoder::new("bytes", &message, 1000).unwrap();
    for _ in 0..100 {
        enc.next_part();
    }
    let mut rx = UrReceiver::default();
    for n in 1..=200 {
        if let Received::Complete { message: got, .. } = rx.receive(&enc.next_part()).unwrap() {
            assert_eq!(got, message);
            assert!(
                n <= enc.fragment_count() + 10,
                "took {n} parts for K={}",
                enc.fragment_count()
            );
            return;
        }
    }
    panic!("did not complete");
}

#[test]
fn multipart_decoder_rules() {
    let v = load("ur.json");
    let rules = v["decoder"]["multipart_decoder_rules"].as_array().unwrap();
    // A single-part UR while a multipart stream is in progress is a stranger.
    let mut rx = UrReceiver::default();
    let mut enc = UrEncoder::new("first-type", b"Ten chars!", 5).unwrap();
    rx.receive(&enc.next_part()).unwrap();
    assert!(matches!(
        rx.receive(rules[0]["input"].as_str().unwrap()),
        Err(UrError::Stranger { .. })
    ));
    // Another type is a stranger; the same type in upper case completes.
    let p2 = enc.next_part();
    let relabelled = p2.replace("FIRST-TYPE", "SECOND-TYPE");
    assert!(matches!(
        rx.receive(&relabelled),
        Err(UrError::Stranger { .. })
    ));
    assert_eq!(
        rx.receive(&p2.to_ascii_uppercase()).unwrap(),
        Received::Complete {
            ur_type: "first-type".into(),
            message: b"Ten chars!".to_vec()
        }
    );
    // Duplicates are not counted twice.
    let dup = rules.iter().find(|r| r.get("sequence").is_some()).unwrap();
    let parts: Vec<&str> = dup["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let mut rx = UrReceiver::default();
    for step in dup["sequence"].as_array().unwrap() {
        let idx: usize = step["receive"].as_str().unwrap()[5..6].parse().unwrap();
        rx.receive(parts[idx]).unwrap();
        assert_eq!(
            rx.progress().parts_received as u64,
            step["processed_parts_count"].as_u64().unwrap()
        );
    }
}
