//! The ledger screen: every entry as a sentence a custodian reads, newest last.

use airgap_protocol::envelope::format_utc;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::ledger::{Entry, Record};
use crate::tui::app::App;

pub(super) fn draw(app: &App, scroll: usize, f: &mut Frame<'_>, area: Rect) {
    let text = std::fs::read_to_string(app.station.ledger().path()).unwrap_or_default();
    let lines: Vec<Line> = text
        .lines()
        .map(|l| match serde_json::from_str::<Entry>(l) {
            Ok(e) => Line::from(format!(
                "#{:<4} {}  {}",
                e.seq,
                format_utc(e.time),
                sentence(&e.record)
            )),
            Err(_) => Line::from("an entry this station cannot read (run `ledger verify`)"),
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0))
            .block(Block::bordered().title(" ledger ")),
        area,
    );
}

/// What an entry records, as a sentence.
pub fn sentence(r: &Record) -> String {
    let short = |d: &str| d.chars().take(16).collect::<String>();
    match r {
        Record::Ceremony { step, detail } if detail.is_empty() => format!("ceremony: {step}"),
        Record::Ceremony { step, detail } => format!("ceremony: {step} — {detail}"),
        Record::RequestSeen { request_id, digest } => format!(
            "request {request_id} captured and verified (digest {}…)",
            short(digest)
        ),
        Record::Signed {
            request_id,
            payloads,
            ..
        } => {
            let what: Vec<String> = payloads
                .iter()
                .map(|p| {
                    let amounts: Vec<String> = p
                        .amounts
                        .iter()
                        .map(|(a, v)| format!("{v} base units of {a}"))
                        .collect();
                    format!(
                        "{} ({}; {} signature(s))",
                        p.network,
                        if amounts.is_empty() {
                            "no amount".into()
                        } else {
                            amounts.join(", ")
                        },
                        p.signatures
                    )
                })
                .collect();
            format!("SIGNED request {request_id}: {}", what.join("; "))
        }
        Record::Refused {
            request_id,
            code,
            reason,
            ..
        } => format!("REFUSED request {request_id} (code {code}): {reason}"),
        Record::HsmLog {
            entries,
            unlogged_boot,
            unlogged_auth,
            new_device,
            baseline,
        } => {
            let mut s = format!("read {} entries of the HSM's own log", entries.len());
            if *baseline {
                s.push_str(", the first this ledger keeps");
            }
            if *new_device {
                s.push_str(", from a new device");
            }
            if *unlogged_boot > 0 || *unlogged_auth > 0 {
                s.push_str(&format!(
                    "; the device could not log {unlogged_boot} start(s) and {unlogged_auth} session(s)"
                ));
            }
            s
        }
        Record::Answering { upto } => {
            format!("answer being signed, carrying the ledger to #{upto}")
        }
        Record::Answered { upto } => format!("answer released, carrying the ledger to #{upto}"),
        Record::Repaired { removed_bytes } => {
            format!("an incomplete last line ({removed_bytes} bytes) was cut off at start")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sentence;
    use crate::ledger::{Record, SignedPayload};

    #[test]
    fn signings_and_refusals_read_as_sentences() {
        let signed = Record::Signed {
            request_id: "r-1".into(),
            digest: "ab".repeat(32),
            payloads: vec![SignedPayload {
                digest: "cd".repeat(32),
                network: "regtest".into(),
                amounts: vec![("native".into(), "60000".into())],
                spends: vec![],
                signatures: 2,
            }],
        };
        assert_eq!(
            sentence(&signed),
            "SIGNED request r-1: regtest (60000 base units of native; 2 signature(s))"
        );
        let refused = Record::Refused {
            request_id: "r-2".into(),
            digest: String::new(),
            code: 40,
            reason: "not allow-listed".into(),
        };
        assert_eq!(
            sentence(&refused),
            "REFUSED request r-2 (code 40): not allow-listed"
        );
        assert_eq!(
            sentence(&Record::Answered { upto: 7 }),
            "answer released, carrying the ledger to #7"
        );
    }
}
