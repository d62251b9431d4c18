//! Keys put into the device, and keys moved between devices under a wrap key (the
//! backup ceremonies).

use yubihsm::command::Code;
use yubihsm::{object, Capability};
#[cfg(feature = "rehearsal")]
use {
    super::dev,
    crate::hsm::{emulated, KeyAlgorithm},
    yubihsm::asymmetric,
};

use super::YubiHsm;
use crate::hsm::{HsmError, KeyInfo, NewKey, SigningBackend};

impl YubiHsm {
    /// Imports a key from its 32-byte secret (a secp256k1 scalar or an Ed25519 seed)
    /// made outside the device; refuses an id in use.
    pub fn put_key(&self, key: &NewKey<'_>, secret: &[u8; 32]) -> Result<KeyInfo, HsmError> {
        let (alg, caps) = self.new_key(key, Capability::PUT_ASYMMETRIC_KEY)?;
        let (id, label) = (key.id, object::Label::from(key.label));
        #[cfg(feature = "rehearsal")]
        if self.device.is_some() && key.algorithm == KeyAlgorithm::Ed25519 {
            emulated::remember_ed25519_seed(secret);
        }
        self.logged(Code::PutAsymmetricKey, [id, 0xffff], || {
            self.client
                .put_asymmetric_key(id, label, self.domain, caps, alg, secret.to_vec())
        })?;
        self.key(id)
    }

    /// Puts a wrap key (backup ceremonies): it may export and import keys, and the keys
    /// it imports may only sign and be exported again.
    pub fn put_wrap_key(&self, id: u16, label: &str, key: &[u8]) -> Result<(), HsmError> {
        let caps = Capability::EXPORT_WRAPPED | Capability::IMPORT_WRAPPED;
        let delegated =
            Capability::SIGN_ECDSA | Capability::SIGN_EDDSA | Capability::EXPORTABLE_UNDER_WRAP;
        self.permitted(Capability::PUT_WRAP_KEY, None)?;
        self.delegable(caps | delegated, self.domain)?;
        let (algorithm, key) = (yubihsm::wrap::Algorithm::Aes256Ccm, key.to_vec());
        self.logged(Code::PutWrapKey, [id, 0xffff], || {
            let label = object::Label::from(label);
            let domain = self.domain;
            self.client
                .put_wrap_key(id, label, domain, caps, delegated, algorithm, key)
        })
        .map(drop)
    }

    /// Exports key `id` encrypted under wrap key `wrap_id`.
    pub fn export_wrapped(&self, wrap_id: u16, id: u16) -> Result<Vec<u8>, HsmError> {
        self.permitted(Capability::EXPORT_WRAPPED, None)?;
        self.logged(Code::ExportWrapped, [id, wrap_id], || {
            self.client
                .export_wrapped(wrap_id, object::Type::AsymmetricKey, id)
        })
        .map(|m| m.into_vec())
    }

    /// Imports a key exported under wrap key `wrap_id`; returns its id.
    pub fn import_wrapped(&self, wrap_id: u16, blob: Vec<u8>) -> Result<u16, HsmError> {
        self.permitted(Capability::IMPORT_WRAPPED, None)?;
        let msg =
            yubihsm::wrap::Message::from_vec(blob).map_err(|e| HsmError::Device(e.to_string()))?;
        let handle = self.logged(Code::ImportWrapped, [0xffff, wrap_id], || {
            self.client.import_wrapped(wrap_id, msg)
        })?;
        #[cfg(feature = "rehearsal")]
        if self.device.is_some() {
            self.emulate_ed25519_import(handle.object_id)?;
        }
        Ok(handle.object_id)
    }

    /// MockHsm imports a wrapped Ed25519 key with its public key for its seed; the
    /// device imports the same key. Puts the key the blob held back in its place.
    #[cfg(feature = "rehearsal")]
    fn emulate_ed25519_import(&self, id: u16) -> Result<(), HsmError> {
        let info = self
            .client
            .get_object_info(id, object::Type::AsymmetricKey)
            .map_err(dev)?;
        if info.algorithm != yubihsm::Algorithm::Asymmetric(asymmetric::Algorithm::Ed25519) {
            return Ok(());
        }
        let public = self.client.get_public_key(id).map_err(dev)?;
        // MockHsm's seed is the wrapped public key: its public key is that seed's.
        let Some(seed) = self.seed_behind(&public) else {
            return Ok(());
        };
        self.client
            .delete_object(id, object::Type::AsymmetricKey)
            .map_err(dev)?;
        self.client
            .put_asymmetric_key(
                id,
                info.label,
                info.domains,
                info.capabilities,
                asymmetric::Algorithm::Ed25519,
                seed.to_vec(),
            )
            .map_err(dev)?;
        Ok(())
    }

    /// The remembered seed whose public key MockHsm took as the seed of `public`'s key.
    #[cfg(feature = "rehearsal")]
    fn seed_behind(&self, public: &yubihsm::asymmetric::PublicKey) -> Option<[u8; 32]> {
        let imported = <[u8; 32]>::try_from(public.as_slice()).ok()?;
        emulated::wrapped_seeds()
            .into_iter()
            .find(|(wrapped_as, _)| {
                ed25519_dalek::SigningKey::from_bytes(wrapped_as)
                    .verifying_key()
                    .to_bytes()
                    == imported
            })
            .map(|(_, seed)| seed)
    }
}
