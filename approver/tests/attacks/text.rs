//! Text the coordinator writes.

use super::*;

// ======================================================================================
// Text the coordinator writes
// ======================================================================================

#[test]
fn defence_solana_memo_instructions_and_labels_cannot_add_lines() {
    let memo = memo_program();
    let m = sol_message(
        1,
        &[STATION, FRIEND, SYSTEM, memo],
        &[
            ix(2, &[0, 1], system_transfer(7)),
            ix(
                3,
                &[],
                b"x\n  PAYS 0.01 SOL to friend\x1b[1A\x1b[2K\xe2\x80\xae".to_vec(),
            ),
        ],
        false,
    );
    let mut p = sol(m);
    // A label carrying text is refused, and its error carries no escape.
    p.network = "solana:mainnet-beta\n  PAYS 1 SOL to friend\x1b[2K".into();
    let e = Reviewed::of_cbor(&request(vec![p.clone()]).to_cbor())
        .unwrap()
        .render(&SummaryOptions::default(), NOW)
        .unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("names no network") && !e.contains('\x1b') && !e.contains('\n'),
        "{e}"
    );
    p.network = "solana:mainnet-beta".into();
    let s = shown(&request(vec![p]));
    let pays = s
        .lines()
        .filter(|l| l.trim_start().starts_with("PAYS"))
        .count();
    assert_eq!(pays, 1, "{s}");
    assert!(!s.contains('\x1b') && !s.contains('\u{202e}'), "{s}");
}

#[test]
fn defence_padding_cannot_wrap_into_a_payment_line() {
    // No control character at all: spaces fill the memo's line to the terminal's width
    // (80 columns here), so the fake text starts a row of its own.
    let fake = format!("  PAYS 0.01 ETH to {ATTACKER}");
    let prefix = "  memo:      ok".chars().count();
    let memo = format!(
        "ok{}{fake}{}",
        " ".repeat(80 - prefix),
        " ".repeat(80 - fake.len())
    );
    let mut r = request(vec![eth_payment()]);
    r.memo = memo;
    let s = shown(&r);
    let rows: Vec<String> = s
        .lines()
        .flat_map(|l| {
            let c: Vec<char> = l.chars().collect();
            c.chunks(80)
                .map(|r| r.iter().collect::<String>())
                .collect::<Vec<_>>()
        })
        .collect();
    let pays: Vec<&String> = rows.iter().filter(|r| r.starts_with("  PAYS")).collect();
    assert_eq!(
        pays.len(),
        1,
        "rows an 80-column terminal shows as payments: {pays:#?}"
    );
}

#[test]
fn defence_format_and_separator_characters_are_escaped() {
    // General categories Cf (format), Zl and Zp, beyond the ones `visible` lists:
    // Arabic letter mark (a bidi control), soft hyphen, Mongolian vowel separator,
    // deprecated bidi formats, interlinear annotations, tag characters, line and
    // paragraph separators.
    let chars = [
        '\u{061c}',
        '\u{00ad}',
        '\u{180e}',
        '\u{206a}',
        '\u{206f}',
        '\u{fff9}',
        '\u{fffb}',
        '\u{e0001}',
        '\u{e0041}',
        '\u{2028}',
        '\u{2029}',
    ];
    let leaked: Vec<String> = chars
        .iter()
        .filter(|c| {
            let mut r = request(vec![eth_payment()]);
            r.memo = format!("ok{c}ok");
            r.requester = format!("desk{c}");
            shown(&r).contains(**c)
        })
        .map(|c| format!("U+{:04X}", u32::from(*c)))
        .collect();
    assert!(leaked.is_empty(), "shown raw: {leaked:?}");
}

#[test]
fn defence_error_messages_carry_no_terminal_escapes() {
    // A Bitcoin label that names no network: the error quotes it raw, and main prints
    // it to the terminal.
    let mut p = psbt(100_000, 90_000, &p2wpkh(0x55), None);
    p.network = "\x1b[2J\x1b[HRequest approved by 3 of 3; nothing more to do\x1b[8m".into();
    let e = Reviewed::of_cbor(&request(vec![p]).to_cbor())
        .unwrap()
        .render(&SummaryOptions::default(), NOW)
        .unwrap_err();
    let text = format!("{e:#}");
    assert!(!text.contains('\x1b'), "{text:?}");
}

#[test]
fn attack_a_flood_of_instructions_pushes_the_payment_out_of_sight() {
    // Payload 1 pays 1,000 SOL; payload 2 carries 16,000 memo instructions, which would
    // push the payment 16,000 lines above the prompt. No cluster takes a transaction
    // over 1,232 bytes, so such a message is refused outright.
    let memo = memo_program();
    let ixs: Vec<Ix> = (0..16_000).map(|_| ix(1, &[], b"ok".to_vec())).collect();
    let flood = sol(sol_message(1, &[STATION, memo], &ixs, false));
    let r = request(vec![sol_payment(THIEF), flood]);
    let started = Instant::now();
    let refused = Reviewed::of_cbor(&r.to_cbor())
        .unwrap()
        .render(&SummaryOptions::default(), NOW)
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "slow refusal");
    assert!(
        format!("{refused:#}").contains("at most 1232"),
        "{refused:#}"
    );
    // The most a transaction can carry keeps the payment within a screenful or two.
    let ixs: Vec<Ix> = (0..200).map(|_| ix(1, &[], b"ok".to_vec())).collect();
    let most = sol(sol_message(1, &[STATION, memo], &ixs, false));
    let s = shown(&request(vec![sol_payment(THIEF), most]));
    let lines: Vec<&str> = s.lines().collect();
    let pays = lines
        .iter()
        .position(|l| l.trim_start().starts_with("PAYS"))
        .unwrap();
    assert!(
        lines.len() - pays <= 500,
        "the payment is shown {} lines above the prompt",
        lines.len() - pays
    );
}
