//! The ledger anchor in the HSM: where the ledger stood after the last signing or refusal,
//! kept where disk access cannot reach it. Two opaque objects take turns, each with a
//! generation count, so that a crash while one is rewritten leaves the other intact.

use crate::hsm::{HsmError, SigningBackend};
use crate::ledger::{Anchor, Ledger, Record};

/// Object ids of the two anchor slots.
pub const SLOTS: [u16; 2] = [0x0700, 0x0701];
const LABEL: &str = "strongroom-ledger-anchor";

fn read_slot<B: SigningBackend + ?Sized>(
    hsm: &B,
    id: u16,
) -> Result<Option<(u64, Anchor)>, HsmError> {
    Ok(hsm.read_opaque(id)?.and_then(|b| {
        let generation = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        Some((generation, Anchor::from_bytes(b.get(8..)?)?))
    }))
}

/// The newest anchor (`None` before the first).
pub fn read<B: SigningBackend + ?Sized>(hsm: &B) -> Result<Option<Anchor>, HsmError> {
    Ok(newest(hsm)?.map(|(_, _, a)| a))
}

fn newest<B: SigningBackend + ?Sized>(hsm: &B) -> Result<Option<(usize, u64, Anchor)>, HsmError> {
    let mut best: Option<(usize, u64, Anchor)> = None;
    for (i, id) in SLOTS.iter().enumerate() {
        if let Some((g, a)) = read_slot(hsm, *id)? {
            if best.is_none_or(|(_, bg, _)| g > bg) {
                best = Some((i, g, a));
            }
        }
    }
    Ok(best)
}

/// Stores `a` as the newest anchor, in the slot that does not hold the current one.
pub fn write<B: SigningBackend + ?Sized>(hsm: &B, a: Anchor) -> Result<(), HsmError> {
    let (slot, generation) = match newest(hsm)? {
        Some((i, g, _)) => (1 - i, g.saturating_add(1)),
        None => (0, 0),
    };
    let mut data = generation.to_be_bytes().to_vec();
    data.extend_from_slice(&a.to_bytes());
    hsm.write_opaque(SLOTS[slot], LABEL, &data)
}

/// Custodians accept the ledger as it is, after investigating a mismatch with the anchor
/// or an HSM log the station refused: records the device's log and that they accepted
/// it (with the position the HSM remembered), and anchors the new head.
pub fn reanchor<B: SigningBackend + ?Sized>(
    ledger: &mut Ledger,
    hsm: &B,
    now: u64,
    why: &str,
) -> Result<(), String> {
    // What the device logged is accepted with the ledger (the custodians investigated):
    // read into it unchecked, a new chain if the old one does not continue.
    let accept = crate::hsm::log::Expect::Ceremony { new_device: true };
    crate::hsm::log::drain(ledger, hsm, now, &accept)
        .map_err(|e| format!("the HSM's audit log {e}"))?;
    let previous = read(hsm).map_err(|e| e.to_string())?;
    ledger
        .append(
            now,
            Record::Ceremony {
                step: "ledger re-anchored".into(),
                detail: format!(
                    "{why}; the HSM remembered entry {}",
                    previous.map_or("none".into(), |a| a.seq.to_string())
                ),
            },
        )
        .map_err(|e| e.to_string())?;
    match ledger.anchor() {
        Some(a) => write(hsm, a).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

impl super::Station {
    /// Exports this station's descriptor (signed by its identity key) as a ceremony step:
    /// the device's log, with that signature, is read into the ledger with the step, so
    /// the next signing does not take the signature for someone else's.
    pub fn export_descriptor<B: SigningBackend + ?Sized>(
        &mut self,
        hsm: &B,
        name: &str,
        policy: &crate::station::Policy,
        now: u64,
    ) -> Result<airgap_protocol::envelope::StationDescriptor, String> {
        let d = crate::ceremony::export_descriptor(hsm, &self.keys, name, policy, now)
            .map_err(|e| e.to_string())?;
        let step = crate::hsm::log::Expect::Ceremony { new_device: false };
        crate::hsm::log::drain(&mut self.ledger, hsm, now, &step)
            .map_err(|e| format!("the HSM's audit log {e}"))?;
        let record = Record::Ceremony {
            step: "export descriptor".into(),
            detail: format!("vault {name}"),
        };
        self.ledger.append(now, record).map_err(|e| e.to_string())?;
        Ok(d)
    }
}
