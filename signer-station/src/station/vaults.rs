//! Bitcoin vaults the station knows: the single-key `wpkh` of each of its per-network
//! keys, and the descriptors registered in its signed policy (multisig across stations
//! and hardware wallets). Ownership of an input or a change output is proven by deriving
//! a registered descriptor at the path the PSBT names and comparing scripts; a path only
//! chooses where to look, so a lying path proves nothing.

use std::str::FromStr;

use airgap_protocol::network::{BitcoinNetwork, Network};
use bitcoin::bip32::ChildNumber;
use bitcoin::psbt::{Input, Output};
use bitcoin::{CompressedPublicKey, PublicKey, Script, ScriptBuf};
use miniscript::descriptor::{DescriptorPublicKey, SinglePubKey, Wildcard};
use miniscript::{Descriptor, DescriptorPublicKey as Dpk, ForEachKey};

use crate::keys::StationKeys;

/// How many derivation candidates are tried for one input or output: a PSBT naming more
/// paths than this proves nothing beyond them.
const MAX_CANDIDATES: usize = 16;

/// The receive and change branches of a ranged descriptor (`<0;1>/*`).
const RECEIVE: u32 = 0;
const CHANGE: u32 = 1;

/// A vault as the station can derive it.
#[derive(Debug, Clone)]
pub struct Vault {
    /// Name (for the screen).
    pub name: String,
    /// Network.
    pub network: BitcoinNetwork,
    /// The station's own single-key wallet (not a registered descriptor).
    own: bool,
    /// A deposit account: its registered account key (the HSM's deposit seed must give
    /// it), whose coins are signed only as sweeps into the station's other vaults.
    deposit: Option<bitcoin::bip32::Xpub>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// One script (no wildcard): receive and change are the same address.
    Definite(Box<Descriptor<Dpk>>),
    /// Ranged: receive (`<0;…>`) and change (`<…;1>`) descriptors with a wildcard.
    Ranged {
        receive: Box<Descriptor<Dpk>>,
        change: Box<Descriptor<Dpk>>,
    },
}

/// A proof of ownership: which vault, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    /// Vault index in [`Vaults`].
    pub vault: usize,
    /// `None` for a definite descriptor, else (branch, index).
    pub at: Option<(u32, u32)>,
    /// The script the signature commits to: the witness script (P2WSH) or the P2WPKH
    /// script pubkey.
    pub script_code: ScriptBuf,
    /// Whether it is P2WSH.
    pub p2wsh: bool,
}

/// Why a registered descriptor cannot be a vault of this station.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("vault {name}: {why}")]
pub struct VaultError {
    /// Vault name.
    pub name: String,
    /// Why.
    pub why: String,
}

/// The vaults of a station.
#[derive(Debug, Clone, Default)]
pub struct Vaults {
    vaults: Vec<Vault>,
}

fn single_key(k: &Dpk) -> Option<PublicKey> {
    match k {
        DescriptorPublicKey::Single(s) => match s.key {
            SinglePubKey::FullKey(pk) => Some(pk),
            SinglePubKey::XOnly(_) => None,
        },
        _ => None,
    }
}

impl Vaults {
    /// The station's own single-key vaults plus the registered descriptors
    /// (`(name, network, descriptor, deposit account)`). A registered descriptor must be
    /// segwit v0 (`wpkh` or `wsh`), include this station's key for its network and no
    /// key of the station for another network, and, when ranged, name receive and change
    /// branches as `<0;1>/*` with unhardened wildcards. A deposit account is
    /// `wpkh(account-xpub/<0;1>/*)` (see [`super::deposits`]).
    pub fn new(
        keys: &StationKeys,
        registered: &[(String, String, String, bool)],
    ) -> Result<Self, VaultError> {
        let mut vaults = Vec::new();
        for (n, k) in &keys.bitcoin {
            let Ok(pk) = CompressedPublicKey::from_slice(&k.public_key) else {
                continue;
            };
            let d =
                Descriptor::new_wpkh(Dpk::from_str(&pk.to_string()).map_err(|e| VaultError {
                    name: "station key".into(),
                    why: e.to_string(),
                })?)
                .map_err(|e| VaultError {
                    name: "station key".into(),
                    why: e.to_string(),
                })?;
            vaults.push(Vault {
                name: format!("the station's own {} key", n.name()),
                network: *n,
                own: true,
                deposit: None,
                kind: Kind::Definite(Box::new(d)),
            });
        }
        for (name, network, descriptor, deposit) in registered {
            let v = if *deposit {
                Self::register_deposits(name, network, descriptor)?
            } else {
                Self::register(keys, name, network, descriptor)?
            };
            vaults.push(v);
        }
        Ok(Self { vaults })
    }

    /// A deposit account: `wpkh(xpub/<0;1>/*)`, one extended key, unhardened.
    fn register_deposits(name: &str, network: &str, descriptor: &str) -> Result<Vault, VaultError> {
        let err = |why: &str| VaultError {
            name: name.to_string(),
            why: why.to_string(),
        };
        let shape = "a deposit account is wpkh(xpub/<0;1>/*) with one account key";
        let network = match Network::parse(network) {
            Ok(Network::Bitcoin(n)) => n,
            _ => return Err(err("not a Bitcoin network")),
        };
        let d = Descriptor::<Dpk>::from_str(descriptor).map_err(|e| err(&e.to_string()))?;
        let Descriptor::Wpkh(w) = &d else {
            return Err(err(shape));
        };
        let DescriptorPublicKey::MultiXPub(x) = w.as_inner() else {
            return Err(err(shape));
        };
        let plain = x.derivation_paths.paths().len() == 2
            && x.derivation_paths
                .paths()
                .iter()
                .enumerate()
                .all(|(b, p)| p.as_ref() == [ChildNumber::Normal { index: b as u32 }]);
        if x.wildcard != Wildcard::Unhardened || !plain {
            return Err(err(shape));
        }
        if bitcoin::NetworkKind::from(network.to_bitcoin()) != x.xkey.network {
            return Err(err("its account key is for another network"));
        }
        let account = x.xkey;
        let mut v = Self::ranged(name, network, d).map_err(|e| err(&e))?;
        v.deposit = Some(account);
        Ok(v)
    }

    fn ranged(name: &str, network: BitcoinNetwork, d: Descriptor<Dpk>) -> Result<Vault, String> {
        let branches = d.into_single_descriptors().map_err(|e| e.to_string())?;
        let [receive, change] = <[_; 2]>::try_from(branches).map_err(|_| {
            "a ranged vault names its receive and change branches as <0;1>/*".to_string()
        })?;
        if !branch_is(&receive, RECEIVE) || !branch_is(&change, CHANGE) {
            return Err("a ranged vault names its receive and change branches as <0;1>/*".into());
        }
        Ok(Vault {
            name: name.to_string(),
            network,
            own: false,
            deposit: None,
            kind: Kind::Ranged {
                receive: Box::new(receive),
                change: Box::new(change),
            },
        })
    }

    fn register(
        keys: &StationKeys,
        name: &str,
        network: &str,
        descriptor: &str,
    ) -> Result<Vault, VaultError> {
        let err = |why: String| VaultError {
            name: name.to_string(),
            why,
        };
        let network = match Network::parse(network) {
            Ok(Network::Bitcoin(n)) => n,
            _ => return Err(err(format!("`{network}` is not a Bitcoin network"))),
        };
        let d = Descriptor::<Dpk>::from_str(descriptor).map_err(|e| err(e.to_string()))?;
        if !matches!(d, Descriptor::Wpkh(_) | Descriptor::Wsh(_)) {
            return Err(err(
                "only segwit v0 descriptors (wpkh, wsh) are signed: the HSM signs ECDSA only"
                    .into(),
            ));
        }
        let ours = keys
            .bitcoin(network)
            .and_then(|k| PublicKey::from_slice(&k.public_key).ok())
            .ok_or_else(|| err(format!("this station has no {} key", network.name())))?;
        let others: Vec<Vec<u8>> = keys
            .all()
            .into_iter()
            .filter(|k| k.public_key != ours.to_bytes())
            .map(|k| k.public_key.clone())
            .collect();
        let mut names_ours = false;
        let mut foreign_station_key = false;
        let mut hardened = false;
        d.for_each_key(|k| {
            if let Some(pk) = single_key(k) {
                names_ours |= pk == ours;
                foreign_station_key |= others.contains(&pk.to_bytes());
            }
            hardened |= matches!(
                k,
                DescriptorPublicKey::XPub(x) if x.wildcard == Wildcard::Hardened
            ) || matches!(
                k,
                DescriptorPublicKey::MultiXPub(x) if x.wildcard == Wildcard::Hardened
            );
            true
        });
        if !names_ours {
            return Err(err(format!(
                "it does not include this station's {} key",
                network.name()
            )));
        }
        if foreign_station_key {
            return Err(err(
                "it includes a key this station holds for another network or chain".into(),
            ));
        }
        if hardened {
            return Err(err(
                "hardened wildcards cannot be derived from public keys".into()
            ));
        }
        if d.has_wildcard() {
            return Self::ranged(name, network, d).map_err(err);
        }
        if d.is_multipath() {
            return Err(err("multipath keys without a wildcard".into()));
        }
        Ok(Vault {
            name: name.to_string(),
            network,
            own: false,
            deposit: None,
            kind: Kind::Definite(Box::new(d)),
        })
    }

    /// The vault at an index.
    pub fn get(&self, i: usize) -> Option<&Vault> {
        self.vaults.get(i)
    }

    /// The first receive address of the `i`-th registered vault (after the station's own
    /// single-key ones), for custodians to compare with the coordinator's.
    pub fn first_address(&self, i: usize) -> Option<String> {
        let v = self.vaults.iter().filter(|v| !v.is_own()).nth(i)?;
        let d = match &v.kind {
            Kind::Definite(d) => d.at_derivation_index(0).ok()?,
            Kind::Ranged { receive, .. } => receive.at_derivation_index(0).ok()?,
        };
        d.address(v.network.to_bitcoin())
            .ok()
            .map(|a| a.to_string())
    }

    /// Proves `script` (an input's previous output) is a coin of a vault, on either
    /// branch, at a path the input's BIP-32 derivations name.
    pub fn owns_input(&self, script: &Script, input: &Input) -> Option<Owned> {
        let at = candidates(input.bip32_derivation.values().map(|(_, p)| p.as_ref()));
        self.vaults
            .iter()
            .enumerate()
            .find_map(|(i, v)| v.prove(i, script, &at, &[RECEIVE, CHANGE], u32::MAX))
    }

    /// Proves `script` (an output of a sweep of deposit coins) pays one of the station's
    /// vaults on `network` other than a deposit account: a receive or change address at
    /// an index no higher than `limit`, or a definite vault's one script.
    pub fn pays_vault(
        &self,
        network: BitcoinNetwork,
        script: &Script,
        output: &Output,
        limit: u32,
    ) -> Option<Owned> {
        let into = |_: usize, v: &Vault| v.network == network && v.deposit.is_none();
        self.prove_output(script, output, (&[RECEIVE, CHANGE], limit), into)
    }

    /// Proves `script` (an output) is one of the vaults `keep` accepts, on `branches` at
    /// an index no higher than `limit` (or a definite vault's one script).
    fn prove_output(
        &self,
        script: &Script,
        output: &Output,
        (branches, limit): (&[u32], u32),
        keep: impl Fn(usize, &Vault) -> bool,
    ) -> Option<Owned> {
        let at = candidates(output.bip32_derivation.values().map(|(_, p)| p.as_ref()));
        self.vaults
            .iter()
            .enumerate()
            .filter(|(i, v)| keep(*i, v))
            .find_map(|(i, v)| v.prove(i, script, &at, branches, limit))
    }

    /// Proves `script` (an output) is change back to one of `spent` (the vaults the
    /// transaction's inputs come from): that vault's change branch at an index no higher
    /// than `limit`, or a definite vault's one script.
    pub fn owns_change(
        &self,
        spent: &[usize],
        script: &Script,
        output: &Output,
        limit: u32,
    ) -> Option<Owned> {
        self.prove_output(script, output, (&[CHANGE], limit), |i, _| {
            spent.contains(&i)
        })
    }
}

/// Whether every multipath key of a single-path descriptor took branch `b` (the last
/// step before the wildcard).
fn branch_is(d: &Descriptor<Dpk>, b: u32) -> bool {
    let mut ok = true;
    d.for_each_key(|k| {
        if let DescriptorPublicKey::XPub(x) = k {
            if x.wildcard != Wildcard::None {
                ok &= x.derivation_path.as_ref().last() == Some(&ChildNumber::Normal { index: b });
            }
        }
        true
    });
    ok
}

/// The (branch, index) pairs the last two steps of the named paths give, unhardened.
fn candidates<'a>(paths: impl Iterator<Item = &'a [ChildNumber]>) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for p in paths {
        if let [.., ChildNumber::Normal { index: b }, ChildNumber::Normal { index: i }] = p {
            if !out.contains(&(*b, *i)) {
                out.push((*b, *i));
            }
        }
        if out.len() >= MAX_CANDIDATES {
            break;
        }
    }
    out
}

impl Vault {
    fn prove(
        &self,
        vault: usize,
        script: &Script,
        at: &[(u32, u32)],
        branches: &[u32],
        limit: u32,
    ) -> Option<Owned> {
        match &self.kind {
            Kind::Definite(d) => {
                let definite = d.at_derivation_index(0).ok()?;
                (definite.script_pubkey().as_script() == script)
                    .then(|| owned(vault, None, &definite))
                    .flatten()
            }
            Kind::Ranged { receive, change } => at.iter().find_map(|&(b, i)| {
                if !branches.contains(&b) || i > limit {
                    return None;
                }
                let d = if b == RECEIVE { receive } else { change };
                let definite = d.at_derivation_index(i).ok()?;
                (definite.script_pubkey().as_script() == script)
                    .then(|| owned(vault, Some((b, i)), &definite))
                    .flatten()
            }),
        }
    }

    fn is_own(&self) -> bool {
        self.own
    }

    /// A deposit account's registered account key.
    pub fn deposit_account(&self) -> Option<&bitcoin::bip32::Xpub> {
        self.deposit.as_ref()
    }

    /// Says where: `vault cold, change address 5`, `vault cold` or the station's own key.
    pub fn describe(&self, at: Option<(u32, u32)>) -> String {
        match at {
            None if self.is_own() => self.name.clone(),
            None if self.deposit.is_some() => format!("deposit account {}", self.name),
            None => format!("vault {}", self.name),
            Some((_, i)) if self.deposit.is_some() => {
                format!("deposit account {}, address {i}", self.name)
            }
            Some((b, i)) => format!(
                "vault {}, {} address {i}",
                self.name,
                if b == CHANGE { "change" } else { "receive" }
            ),
        }
    }
}

fn owned(
    vault: usize,
    at: Option<(u32, u32)>,
    d: &Descriptor<miniscript::DefiniteDescriptorKey>,
) -> Option<Owned> {
    let (script_code, p2wsh) = match d {
        Descriptor::Wpkh(_) => (d.script_pubkey(), false),
        Descriptor::Wsh(_) => (d.explicit_script().ok()?, true),
        _ => return None,
    };
    Some(Owned {
        vault,
        at,
        script_code,
        p2wsh,
    })
}
