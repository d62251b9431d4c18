//! More of the storage conformance suite: the webhooks' cursors and API tokens.

use super::Store;

pub(super) fn suite(s: &dyn Store) {
    // Cursors (the webhooks' outbox): absent is 0; moved only from where it was read.
    assert_eq!(s.cursor("hook").unwrap(), 0);
    assert!(s.move_cursor("hook", 0, 7).unwrap());
    assert!(!s.move_cursor("hook", 0, 9).unwrap() && !s.move_cursor("hook", 6, 9).unwrap());
    assert!(s.move_cursor("hook", 7, 9).unwrap());
    assert_eq!(
        (s.cursor("hook").unwrap(), s.cursor("other").unwrap()),
        (9, 0)
    );

    // Tokens: made with an expiry, used (at most a write a minute), revoked once, listed.
    let hash = "ab".repeat(32);
    s.add_token_expiring(
        &hash,
        ("bot", &["warm-tier".into()]),
        Some(500),
        "admin",
        100,
    )
    .unwrap();
    let t = s.token(&hash).unwrap().unwrap();
    assert_eq!(
        (t.id.as_str(), t.expires, t.last_used),
        (&hash[..16], Some(500), None)
    );
    assert!(t.live(499) && !t.live(500));
    s.touch_token(&hash, 200).unwrap();
    s.touch_token(&hash, 230).unwrap();
    assert_eq!(s.token(&hash).unwrap().unwrap().last_used, Some(200));
    s.touch_token(&hash, 260).unwrap();
    assert_eq!(s.token(&hash).unwrap().unwrap().last_used, Some(260));
    assert_eq!(s.revoke_token(&hash[..16], "root", 300).unwrap(), "bot");
    assert!(
        s.revoke_token(&hash[..16], "root", 301).is_err(),
        "revoked once"
    );
    let t = s.token(&hash).unwrap().unwrap();
    assert!(t.revoked == Some(300) && !t.live(301));
    assert!(s.tokens().unwrap().iter().any(|x| x.id == t.id));
}
