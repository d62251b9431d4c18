use super::*;

fn stream(ur_type: &str, msg: &[u8], frag: usize, n: usize) -> Vec<String> {
    let mut e = UrEncoder::new(ur_type, msg, frag).unwrap();
    (0..n).map(|_| e.next_part()).collect()
}

#[test]
fn single_part_when_message_fits() {
    let mut e = UrEncoder::new("bytes", b"data", 100).unwrap();
    assert!(e.is_single_part());
    assert_eq!(e.next_part(), "UR:BYTES/IEHSJYHSPMWFWFIA");
    assert_eq!(e.max_part_len(), e.next_part().len());
}

#[test]
fn multipart_parts_fit_their_bound() {
    let msg: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let mut e = UrEncoder::new("crypto-psbt", &msg, 100).unwrap();
    assert_eq!(e.fragment_count(), 10);
    for _ in 0..50 {
        let p = e.next_part();
        assert!(p.starts_with("UR:CRYPTO-PSBT/"));
        assert!(
            p.len() <= e.max_part_len(),
            "{} > {}",
            p.len(),
            e.max_part_len()
        );
    }
}

#[test]
fn fail_parse_rejects_malformed() {
    let good = stream("bytes", &[7u8; 300], 50, 1).remove(0);
    assert_eq!(parse_part("xr:bytes/aa"), Err(UrError::NotUr));
    assert!(matches!(
        parse_part("ur:by_tes/aeae"),
        Err(UrError::InvalidType(_))
    ));
    assert!(matches!(
        parse_part("ur:bytes/0-6/aeae"),
        Err(UrError::InvalidSequence(_))
    ));
    assert!(matches!(
        parse_part("ur:bytes/1-99999999999/aeae"),
        Err(UrError::InvalidSequence(_))
    ));
    // Path says 2-6 but the CBOR says 1-6.
    let lied = good.replacen("/1-6/", "/2-6/", 1);
    assert!(matches!(
        parse_part(&lied),
        Err(UrError::InvalidSequence(_))
    ));
    // One changed character breaks the bytewords CRC.
    let mut flipped = good.clone().into_bytes();
    let n = flipped.len();
    flipped[n - 10] = if flipped[n - 10] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        parse_part(std::str::from_utf8(&flipped).unwrap()),
        Err(UrError::Bytewords(_))
    ));
    let long = format!("ur:bytes/{}", "ae".repeat(MAX_PART_TEXT_LEN));
    assert!(matches!(
        parse_part(&long),
        Err(UrError::TextTooLong { .. })
    ));
}

#[test]
fn fail_part_with_inconsistent_header_is_malformed() {
    // messageLen 100 with 8 fragments of 5 bytes cannot be.
    let p = FountainPart {
        seq: 1,
        seq_len: 8,
        message_len: 100,
        checksum: 1,
        data: vec![1, 2, 3, 4, 5],
    };
    let text = format!(
        "ur:bytes/1-8/{}",
        ur::bytewords::encode(&p.to_cbor(), ur::bytewords::Style::Minimal)
    );
    assert!(matches!(parse_part(&text), Err(UrError::MalformedPart(_))));
}
