//! YubiHSM 2 over the `yubihsm` crate: USB for the real device, MockHsm for tests.

use yubihsm::{
    asymmetric, authentication, object, Capability, Client, Connector, Credentials, Domain,
};

use super::{BackendInfo, HsmError, KeyAlgorithm, KeyCapabilities, KeyInfo, SigningBackend};

/// How to reach the HSM. There is no HTTP connector: the station opens no sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// A YubiHSM 2 on USB.
    Usb,
    /// The in-process MockHsm (tests and demo only; not a hardware security module).
    #[cfg(feature = "rehearsal")]
    Mock,
}

/// A YubiHSM session.
pub struct YubiHsm {
    client: Client,
    connection: Connection,
}

impl std::fmt::Debug for YubiHsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YubiHsm")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

fn dev(e: impl std::fmt::Display) -> HsmError {
    HsmError::Device(e.to_string())
}

impl YubiHsm {
    /// Opens a session with authentication key `auth_key_id` and its 32-byte key.
    pub fn open(
        connection: Connection,
        auth_key_id: u16,
        auth_key: &[u8; 32],
    ) -> Result<Self, HsmError> {
        let connector = match connection {
            Connection::Usb => Connector::usb(&Default::default()),
            #[cfg(feature = "rehearsal")]
            Connection::Mock => Connector::mockhsm(),
        };
        let key = authentication::Key::from_slice(auth_key)
            .map_err(|e| HsmError::Session(e.to_string()))?;
        let client = Client::open(connector, Credentials::new(auth_key_id, key), true)
            .map_err(|e| HsmError::Session(e.to_string()))?;
        Ok(Self { client, connection })
    }

    /// Opens a factory-fresh device (or a new MockHsm) with the factory credential
    /// (key 1, password "password"): only the init ceremony does this.
    pub fn open_factory(connection: Connection) -> Result<Self, HsmError> {
        let connector = match connection {
            Connection::Usb => Connector::usb(&Default::default()),
            #[cfg(feature = "rehearsal")]
            Connection::Mock => Connector::mockhsm(),
        };
        let client = Client::open(connector, Credentials::default(), true)
            .map_err(|e| HsmError::Session(e.to_string()))?;
        Ok(Self { client, connection })
    }

    /// A new session on the same device (or the same MockHsm) with another credential.
    pub fn reopen(&self, auth_key_id: u16, auth_key: &[u8; 32]) -> Result<Self, HsmError> {
        let key = authentication::Key::from_slice(auth_key)
            .map_err(|e| HsmError::Session(e.to_string()))?;
        let client = Client::open(
            self.client.connector().clone(),
            Credentials::new(auth_key_id, key),
            true,
        )
        .map_err(|e| HsmError::Session(e.to_string()))?;
        Ok(Self {
            client,
            connection: self.connection,
        })
    }

    /// The underlying client, for ceremonies.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether this is the MockHsm.
    pub fn is_mock(&self) -> bool {
        match self.connection {
            Connection::Usb => false,
            #[cfg(feature = "rehearsal")]
            Connection::Mock => true,
        }
    }
}

fn caps_to_yubi(alg: KeyAlgorithm, c: KeyCapabilities) -> Capability {
    let mut caps = Capability::empty();
    if c.sign {
        caps |= match alg {
            KeyAlgorithm::Secp256k1 => Capability::SIGN_ECDSA,
            KeyAlgorithm::Ed25519 => Capability::SIGN_EDDSA,
        };
    }
    if c.exportable_under_wrap {
        caps |= Capability::EXPORTABLE_UNDER_WRAP;
    }
    caps
}

fn caps_from_yubi(c: Capability) -> KeyCapabilities {
    KeyCapabilities {
        sign: c.intersects(Capability::SIGN_ECDSA | Capability::SIGN_EDDSA),
        exportable_under_wrap: c.contains(Capability::EXPORTABLE_UNDER_WRAP),
    }
}

/// Compresses the 64-byte `x || y` the device returns for secp256k1 into SEC1 form.
fn compress_k256(xy: &[u8]) -> Option<Vec<u8>> {
    if xy.len() != 64 {
        return None;
    }
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(xy);
    let point = k256::PublicKey::from_sec1_bytes(&sec1).ok()?;
    Some(
        k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&point, true)
            .as_bytes()
            .to_vec(),
    )
}

impl SigningBackend for YubiHsm {
    fn info(&self) -> Result<BackendInfo, HsmError> {
        let i = self.client.device_info().map_err(dev)?;
        Ok(BackendInfo {
            is_mock: self.is_mock(),
            model: if self.is_mock() {
                "MockHsm — NOT A HARDWARE SECURITY MODULE".into()
            } else {
                "YubiHSM 2".into()
            },
            serial: i.serial_number.to_string(),
            firmware: format!(
                "{}.{}.{}",
                i.major_version, i.minor_version, i.build_version
            ),
        })
    }

    fn list_keys(&self) -> Result<Vec<KeyInfo>, HsmError> {
        let entries = self
            .client
            .list_objects(&[object::Filter::Type(object::Type::AsymmetricKey)])
            .map_err(dev)?;
        let mut keys = Vec::new();
        for e in entries {
            let info = self
                .client
                .get_object_info(e.object_id, object::Type::AsymmetricKey)
                .map_err(dev)?;
            let (algorithm, public_key) = match info.algorithm {
                yubihsm::Algorithm::Asymmetric(asymmetric::Algorithm::EcK256) => {
                    let pk = self.client.get_public_key(e.object_id).map_err(dev)?;
                    (
                        KeyAlgorithm::Secp256k1,
                        compress_k256(pk.as_slice()).ok_or(HsmError::BadSignature(e.object_id))?,
                    )
                }
                yubihsm::Algorithm::Asymmetric(asymmetric::Algorithm::Ed25519) => {
                    let pk = self.client.get_public_key(e.object_id).map_err(dev)?;
                    (KeyAlgorithm::Ed25519, pk.as_slice().to_vec())
                }
                _ => continue,
            };
            keys.push(KeyInfo {
                id: e.object_id,
                label: info.label.to_string(),
                algorithm,
                capabilities: caps_from_yubi(info.capabilities),
                public_key,
            });
        }
        keys.sort_by_key(|k| k.id);
        Ok(keys)
    }

    fn generate_key(
        &self,
        id: u16,
        label: &str,
        algorithm: KeyAlgorithm,
        caps: KeyCapabilities,
    ) -> Result<KeyInfo, HsmError> {
        let alg = match algorithm {
            KeyAlgorithm::Secp256k1 => asymmetric::Algorithm::EcK256,
            KeyAlgorithm::Ed25519 => asymmetric::Algorithm::Ed25519,
        };
        let label = object::Label::from(label);
        self.client
            .generate_asymmetric_key(id, label, Domain::DOM1, caps_to_yubi(algorithm, caps), alg)
            .map_err(dev)?;
        self.key(id)
    }

    fn sign_ecdsa_prehash(&self, id: u16, digest: &[u8; 32]) -> Result<Vec<u8>, HsmError> {
        self.client
            .sign_ecdsa_prehash_raw(id, digest.to_vec())
            .map_err(dev)
    }

    fn sign_ed25519(&self, id: u16, message: &[u8]) -> Result<[u8; 64], HsmError> {
        let sig = self
            .client
            .sign_ed25519(id, message.to_vec())
            .map_err(dev)?;
        Ok(sig.to_bytes())
    }

    fn read_opaque(&self, id: u16) -> Result<Option<Vec<u8>>, HsmError> {
        if !self.has_object(id, object::Type::Opaque)? {
            return Ok(None);
        }
        self.client.get_opaque(id).map(Some).map_err(dev)
    }

    fn write_opaque(&self, id: u16, label: &str, data: &[u8]) -> Result<(), HsmError> {
        if self.has_object(id, object::Type::Opaque)? {
            self.client
                .delete_object(id, object::Type::Opaque)
                .map_err(dev)?;
        }
        self.client
            .put_opaque(
                id,
                object::Label::from(label),
                Domain::DOM1,
                Capability::empty(),
                yubihsm::opaque::Algorithm::Data,
                data.to_vec(),
            )
            .map(|_| ())
            .map_err(dev)
    }
}

impl YubiHsm {
    fn has_object(&self, id: u16, t: object::Type) -> Result<bool, HsmError> {
        Ok(!self
            .client
            .list_objects(&[object::Filter::Type(t), object::Filter::Id(id)])
            .map_err(dev)?
            .is_empty())
    }
}
