//! A period of the audit chain for compliance, as JSON rows or CSV, narrowed to one
//! principal or one network: `coordinator audit export` and `GET /v1/audit/export`.

use std::collections::HashSet;

use super::AuditRecord;

/// Which rows an export keeps.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// From and until (Unix seconds, both inclusive; `None`: no end).
    pub period: (u64, Option<u64>),
    /// Only rows this principal (or station, or service) wrote.
    pub actor: Option<String>,
    /// Only rows about requests on this network (as each request's creation gives it).
    pub network: Option<String>,
}

/// The rows of `all` (the chain in order) that `s` keeps.
pub fn select<'a>(all: &'a [AuditRecord], s: &Selection) -> Vec<&'a AuditRecord> {
    let on_network: Option<HashSet<&str>> = s.network.as_deref().map(|n| {
        all.iter()
            .filter(|r| r.action == "request.create" && r.detail["body"]["network"] == n)
            .map(|r| r.subject.as_str())
            .collect()
    });
    all.iter()
        .filter(|r| r.time >= s.period.0 && s.period.1.is_none_or(|to| r.time <= to))
        .filter(|r| s.actor.as_deref().is_none_or(|a| r.actor == a))
        .filter(|r| {
            on_network
                .as_ref()
                .is_none_or(|ids| ids.contains(r.subject.as_str()))
        })
        .collect()
}

/// The rows as CSV with a header line; text fields quoted, the detail as JSON.
pub fn csv(rows: &[&AuditRecord]) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("seq,time,actor,action,subject,detail,prev_hash,hash\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.seq,
            r.time,
            q(&r.actor),
            q(&r.action),
            q(&r.subject),
            q(&r.detail.to_string()),
            r.prev_hash,
            r.hash
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(
        seq: u64,
        actor: &str,
        action: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> AuditRecord {
        AuditRecord {
            seq,
            time: 100 + seq,
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            detail,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn selects_by_time_actor_and_network() {
        let all = vec![
            row(
                1,
                "desk",
                "request.create",
                "a",
                json!({"body": {"network": "regtest"}}),
            ),
            row(
                2,
                "desk",
                "request.create",
                "b",
                json!({"body": {"network": "evm:1"}}),
            ),
            row(3, "ana", "artifact.approval", "a", json!({})),
            row(
                4,
                "ana",
                "artifact.approval",
                "b",
                json!({"note": "a \"quoted\" word"}),
            ),
        ];
        let seqs = |s: &Selection| select(&all, s).iter().map(|r| r.seq).collect::<Vec<_>>();
        assert_eq!(seqs(&Selection::default()), [1, 2, 3, 4]);
        let regtest = Selection {
            network: Some("regtest".into()),
            ..Selection::default()
        };
        assert_eq!(seqs(&regtest), [1, 3]);
        let ana = Selection {
            actor: Some("ana".into()),
            period: (104, None),
            ..Selection::default()
        };
        assert_eq!(seqs(&ana), [4]);
        let until = Selection {
            period: (0, Some(102)),
            ..Selection::default()
        };
        assert_eq!(seqs(&until), [1, 2]);
        let text = csv(&select(&all, &ana));
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            text.contains(r#""{""note"":""a \""quoted\"" word""}""#),
            "{text}"
        );
    }
}
