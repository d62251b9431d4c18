//! Three-way reconciliation: the YubiHSM 2's own audit log, each station's ledger and the
//! coordinator's requests. Every response a station sends carries its ledger since the
//! previous response, with the device's audit log read into it; the coordinator stores
//! the responses. Here every signature the device made with a station's chain keys is
//! matched to the signing the station's ledger recorded and that signing to a request
//! the coordinator knows; what does not match is an alert: a signature nobody asked for,
//! a gap in the device's log or in the ledger, a signing of an unknown request.

use std::collections::{BTreeMap, HashSet};

use airgap_protocol::envelope::SignResponse;
use airgap_protocol::hsm_log::LogEntry;
use serde::{Deserialize, Serialize};

use crate::chain::RegisteredStation;
use crate::store::{Kind, Store, StoreError};

/// A station ledger entry as it crossed the gap (the fields reconciliation reads).
#[derive(Debug, Clone, Deserialize)]
struct Entry {
    seq: u64,
    prev: String,
    hash: String,
    record: Record,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Record {
    Signed {
        request_id: String,
        payloads: Vec<SignedPayload>,
    },
    Refused {
        request_id: String,
    },
    HsmLog {
        entries: Vec<LogEntry>,
        #[serde(default)]
        new_device: bool,
        #[serde(default)]
        baseline: bool,
    },
    Ceremony {
        step: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
struct SignedPayload {
    #[serde(default)]
    signatures: usize,
}

/// A signature the device made with one of `keys`.
fn signs_with(e: &LogEntry, keys: &HashSet<u16>) -> bool {
    e.is_signature() && keys.contains(&e.target_key)
}

/// What does not reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, thiserror::Error)]
#[serde(tag = "alert", rename_all = "kebab-case")]
pub enum Alert {
    /// Ledger entries the coordinator never received (a response not imported, or
    /// withheld).
    #[error("station {station}: ledger entries {from}..={to} never reached the coordinator")]
    LedgerGap {
        /// Station name.
        station: String,
        /// First missing entry.
        from: u64,
        /// Last missing entry.
        to: u64,
    },
    /// A ledger entry that does not follow the one before it, or two different entries
    /// with one number.
    #[error("station {station}: ledger entry {seq} does not follow the entry before it")]
    LedgerBroken {
        /// Station name.
        station: String,
        /// The entry.
        seq: u64,
    },
    /// A stored response whose station signature does not verify: edited in the
    /// database.
    #[error("station {station}: its stored response for {request} is not signed by it (edited in the database)")]
    Forged {
        /// Station name.
        station: String,
        /// The request the response answered.
        request: String,
    },
    /// An unreadable ledger entry in a stored response.
    #[error("station {station}: an unreadable ledger entry in its response for {request}")]
    Unreadable {
        /// Station name.
        station: String,
        /// The request the response answered.
        request: String,
    },
    /// The device's log has a gap or a break between two entries the ledger holds.
    #[error("station {station}: the HSM log breaks between entries {after} and {next}")]
    HsmLogBroken {
        /// Station name.
        station: String,
        /// The last good entry.
        after: u16,
        /// The entry that does not follow it.
        next: u16,
    },
    /// The device made more (or fewer) chain-key signatures than the signing recorded.
    #[error(
        "station {station}: the HSM made {made} signature(s) with chain keys for request \
         {request}, whose signing recorded {recorded}"
    )]
    Signatures {
        /// Station name.
        station: String,
        /// The request signed (or refused) after them.
        request: String,
        /// Signatures in the device's log.
        made: usize,
        /// Signatures the ledger recorded.
        recorded: usize,
    },
    /// A signing or refusal of a request the coordinator has no record of.
    #[error("station {station}: signed or refused request {request}, unknown to the coordinator")]
    UnknownRequest {
        /// Station name.
        station: String,
        /// The request id the ledger names.
        request: String,
    },
}

/// One station's part of the reconciliation.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct StationReport {
    /// The station's name.
    pub station: String,
    /// Ledger entries received.
    pub ledger_entries: usize,
    /// Device audit log entries in them.
    pub hsm_entries: usize,
    /// Chain-key signatures matched to a recorded signing of a known request.
    pub signatures_matched: usize,
    /// Chain-key signatures after the last response (matched when the next arrives).
    pub signatures_pending: usize,
}

/// The reconciliation of every station.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// Per station.
    pub stations: Vec<StationReport>,
    /// What does not reconcile.
    pub alerts: Vec<Alert>,
}

/// Reconciles every registered station's responses stored in `store`.
pub fn reconcile(
    store: &dyn Store,
    stations: &[(String, RegisteredStation)],
) -> Result<Report, StoreError> {
    let mut by_station: BTreeMap<String, Vec<(String, SignResponse)>> = BTreeMap::new();
    let mut report = Report::default();
    for [request, station, value] in store.artifacts_of(Kind::Response)? {
        let Some(resp) = hex::decode(&value)
            .ok()
            .and_then(|b| SignResponse::from_cbor(&b).ok())
        else {
            // Stored only after it verified: it was edited in the database since.
            report.alerts.push(Alert::Forged { station, request });
            continue;
        };
        by_station.entry(station).or_default().push((request, resp));
    }
    for (name, registered) in stations {
        let mut responses = by_station.remove(name).unwrap_or_default();
        // What a database edit could change must still carry the station's signature.
        let identity =
            ed25519_dalek::VerifyingKey::from_bytes(&registered.descriptor.identity).ok();
        responses.retain(|(request, resp)| {
            let sig = ed25519_dalek::Signature::from_bytes(&resp.station_signature);
            let signed = identity.is_some_and(|k| {
                ed25519_dalek::Verifier::verify(&k, &resp.station_message(), &sig).is_ok()
            });
            if !signed {
                report.alerts.push(Alert::Forged {
                    station: name.clone(),
                    request: request.clone(),
                });
            }
            signed
        });
        let keys: HashSet<u16> = registered.descriptor.keys.iter().map(|k| k.id).collect();
        let (s, alerts) = station(store, name, &keys, &responses)?;
        report.stations.push(s);
        report.alerts.extend(alerts);
    }
    Ok(report)
}

/// One station: its ledger entries from every response, in order.
fn station(
    store: &dyn Store,
    name: &str,
    keys: &HashSet<u16>,
    responses: &[(String, SignResponse)],
) -> Result<(StationReport, Vec<Alert>), StoreError> {
    let mut alerts = Vec::new();
    let mut entries: BTreeMap<u64, Entry> = BTreeMap::new();
    for (request, resp) in responses {
        for raw in &resp.ledger_entries {
            let Ok(e) = serde_json::from_slice::<Entry>(raw) else {
                alerts.push(Alert::Unreadable {
                    station: name.into(),
                    request: request.clone(),
                });
                continue;
            };
            if let Some(seen) = entries.get(&e.seq) {
                if seen.hash != e.hash {
                    alerts.push(Alert::LedgerBroken {
                        station: name.into(),
                        seq: e.seq,
                    });
                }
                continue;
            }
            entries.insert(e.seq, e);
        }
    }
    let mut r = StationReport {
        station: name.into(),
        ledger_entries: entries.len(),
        ..Default::default()
    };
    let mut prev: Option<&Entry> = None;
    let mut last_hsm: Option<&LogEntry> = None;
    let mut window = 0usize;
    for e in entries.values() {
        let expected_seq = prev.map_or(0, |p| p.seq.saturating_add(1));
        if e.seq != expected_seq {
            alerts.push(Alert::LedgerGap {
                station: name.into(),
                from: expected_seq,
                to: e.seq.saturating_sub(1),
            });
            // What was missed may hold device entries and signatures: start afresh.
            last_hsm = None;
            window = 0;
        } else if prev.is_some_and(|p| p.hash != e.prev) {
            alerts.push(Alert::LedgerBroken {
                station: name.into(),
                seq: e.seq,
            });
        }
        prev = Some(e);
        match &e.record {
            Record::HsmLog {
                entries: logged,
                new_device,
                baseline,
            } => {
                if *new_device {
                    last_hsm = None;
                }
                for h in logged {
                    if let Some(p) = last_hsm {
                        if !h.follows(p) {
                            alerts.push(Alert::HsmLogBroken {
                                station: name.into(),
                                after: p.item,
                                next: h.item,
                            });
                        }
                    }
                    last_hsm = Some(h);
                    r.hsm_entries += 1;
                    // A baseline is what the device did before the station kept its
                    // record: not counted against a signing.
                    window += usize::from(signs_with(h, keys) && !baseline);
                }
            }
            Record::Signed {
                request_id,
                payloads,
            } => {
                let recorded: usize = payloads.iter().map(|p| p.signatures).sum();
                // Entries older than the signature count cannot be checked.
                let counted = payloads.iter().all(|p| p.signatures > 0);
                if counted {
                    settle(&mut alerts, name, request_id, window, recorded);
                }
                r.signatures_matched += window.min(recorded);
                window = 0;
                known(store, name, request_id, &mut alerts)?;
            }
            Record::Refused { request_id } => {
                settle(&mut alerts, name, request_id, window, 0);
                window = 0;
                known(store, name, request_id, &mut alerts)?;
            }
            // Ceremonies make no chain-key signatures: any in their window were made by
            // someone else (custodians accepting them at a re-anchor, say).
            Record::Ceremony { step } => {
                settle(&mut alerts, name, &format!("(ceremony: {step})"), window, 0);
                window = 0;
            }
            Record::Other => {}
        }
    }
    r.signatures_pending = window;
    Ok((r, alerts))
}

/// The device made `made` chain-key signatures where the ledger recorded `recorded` for
/// `request`: an alert when they differ.
fn settle(alerts: &mut Vec<Alert>, station: &str, request: &str, made: usize, recorded: usize) {
    if made != recorded {
        alerts.push(Alert::Signatures {
            station: station.into(),
            request: request.into(),
            made,
            recorded,
        });
    }
}

fn known(
    store: &dyn Store,
    station: &str,
    request: &str,
    alerts: &mut Vec<Alert>,
) -> Result<(), StoreError> {
    if store.get(request)?.is_none() {
        alerts.push(Alert::UnknownRequest {
            station: station.into(),
            request: request.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use airgap_protocol::envelope::{KeyId, Outcome};
    use airgap_protocol::hsm_log::SIGN_ECDSA;
    use serde_json::json;
    use sha2::{Digest, Sha256};

    /// Device log entries `items`, chained (a skipped item still gets a digest chained
    /// to the entry before it, as a device that lost one would not).
    fn hsm(items: &[u16], target: u16) -> Vec<serde_json::Value> {
        let mut prev = "00".repeat(16);
        let mut out = Vec::new();
        for &item in items {
            // Digests computed here, byte by byte, not by the type under test.
            let e = LogEntry {
                item,
                cmd: SIGN_ECDSA,
                length: 0,
                session_key: 2,
                target_key: target,
                second_key: 0xffff,
                result: SIGN_ECDSA | 0x80,
                tick: u32::from(item),
                digest: String::new(),
            };
            let mut d = Vec::new();
            d.extend_from_slice(&item.to_be_bytes());
            d.push(e.cmd);
            d.extend_from_slice(&[0, 0, 0, 2]);
            d.extend_from_slice(&target.to_be_bytes());
            d.extend_from_slice(&[0xff, 0xff, e.result]);
            d.extend_from_slice(&e.tick.to_be_bytes());
            d.extend_from_slice(&hex::decode(&prev).unwrap());
            prev = hex::encode(&Sha256::digest(&d)[..16]);
            out.push(
                json!({"item": item, "cmd": e.cmd, "length": 0, "session_key": 2,
                "target_key": target, "second_key": 0xffff, "result": e.result,
                "tick": e.tick, "digest": prev}),
            );
        }
        out
    }

    fn response(records: Vec<serde_json::Value>) -> SignResponse {
        let mut prev = "genesis".to_string();
        let entries = records
            .into_iter()
            .enumerate()
            .map(|(seq, record)| {
                let hash = format!("h{seq}");
                let e =
                    json!({"seq": seq, "time": 1, "prev": prev, "record": record, "hash": hash});
                prev = hash;
                serde_json::to_vec(&e).unwrap()
            })
            .collect();
        SignResponse {
            request_digest: [0; 32],
            request_id: [0; 16],
            station: KeyId([0; 8]),
            created: 1,
            outcome: Outcome::Refused {
                code: 1,
                reason: String::new(),
            },
            ledger_entries: entries,
            station_signature: [0; 64],
        }
    }

    #[test]
    fn a_missing_device_entry_and_an_unknown_request_raise_alerts() {
        let store = crate::store::Sqlite::memory().unwrap();
        let keys = HashSet::from([0x0200]);
        // Entry 3 of the device's log is missing between 2 and 4; the signing names a
        // request this coordinator never made.
        let resp = response(vec![
            json!({"kind": "hsm_log", "entries": hsm(&[1, 2, 4], 0x0200),
                "unlogged_boot": 0, "unlogged_auth": 0}),
            json!({"kind": "signed", "request_id": "not-ours", "digest": "00",
                "payloads": [{"digest": "p", "network": "regtest", "amounts": [],
                    "spends": [], "signatures": 3}]}),
        ]);
        let (report, alerts) = station(&store, "vault-a", &keys, &[("r1".into(), resp)]).unwrap();
        assert_eq!(report.hsm_entries, 3);
        assert_eq!(report.signatures_matched, 3);
        assert_eq!(
            alerts,
            [
                Alert::HsmLogBroken {
                    station: "vault-a".into(),
                    after: 2,
                    next: 4
                },
                Alert::UnknownRequest {
                    station: "vault-a".into(),
                    request: "not-ours".into()
                }
            ]
        );
    }
}
