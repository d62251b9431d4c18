//! YubiHSM 2 over the `yubihsm` crate: USB for the real device, MockHsm for tests.

use yubihsm::{
    asymmetric, authentication, object, Capability, Client, Connector, Credentials, Domain,
};

use yubihsm::command::Code;

mod wrap;

#[cfg(feature = "rehearsal")]
use super::emulated;
use super::log::{DeviceLog, LogEntry};
#[cfg(feature = "rehearsal")]
use emulated::Device;
#[cfg(not(feature = "rehearsal"))]
type Device = ();
use super::{
    BackendInfo, HsmError, KeyAlgorithm, KeyCapabilities, KeyInfo, NewKey, SigningBackend,
};

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
    /// The session's authentication key.
    auth_key: u16,
    /// The domain new keys and objects are made in.
    domain: Domain,
    /// On MockHsm, what the device does that MockHsm does not (shared by every session
    /// on the same MockHsm).
    #[cfg(feature = "rehearsal")]
    device: Option<std::sync::Arc<emulated::Device>>,
}

impl std::fmt::Debug for YubiHsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YubiHsm")
            .field("connection", &self.connection)
            .field("auth_key", &self.auth_key)
            .finish_non_exhaustive()
    }
}

fn dev(e: yubihsm::client::Error) -> HsmError {
    match e.device_error() {
        Some(yubihsm::device::ErrorKind::LogFull) => HsmError::LogFull,
        _ => HsmError::Device(e.to_string()),
    }
}

impl YubiHsm {
    /// Opens a session with authentication key `auth_key_id` and its 32-byte key.
    pub fn open(
        connection: Connection,
        auth_key_id: u16,
        auth_key: &[u8; 32],
    ) -> Result<Self, HsmError> {
        let key = authentication::Key::from_slice(auth_key)
            .map_err(|e| HsmError::Session(e.to_string()))?;
        Self::session(
            connection,
            Self::connector(connection),
            auth_key_id,
            key,
            None,
        )
    }

    /// Opens a factory-fresh device (or a new MockHsm) with the factory credential
    /// (key 1, password "password"): only the init ceremony does this.
    pub fn open_factory(connection: Connection) -> Result<Self, HsmError> {
        let c = Credentials::default();
        Self::session(
            connection,
            Self::connector(connection),
            c.authentication_key_id,
            c.authentication_key,
            None,
        )
    }

    /// A new session on the same device (or the same MockHsm) with another credential.
    pub fn reopen(&self, auth_key_id: u16, auth_key: &[u8; 32]) -> Result<Self, HsmError> {
        let key = authentication::Key::from_slice(auth_key)
            .map_err(|e| HsmError::Session(e.to_string()))?;
        #[cfg(feature = "rehearsal")]
        let device = self.device.clone();
        #[cfg(not(feature = "rehearsal"))]
        let device = None;
        Self::session(
            self.connection,
            self.client.connector().clone(),
            auth_key_id,
            key,
            device,
        )
    }

    fn connector(connection: Connection) -> Connector {
        match connection {
            Connection::Usb => Connector::usb(&Default::default()),
            #[cfg(feature = "rehearsal")]
            Connection::Mock => Connector::mockhsm(),
        }
    }

    #[cfg_attr(not(feature = "rehearsal"), allow(unused_variables))]
    fn session(
        connection: Connection,
        connector: Connector,
        auth_key_id: u16,
        key: authentication::Key,
        device: Option<std::sync::Arc<Device>>,
    ) -> Result<Self, HsmError> {
        let client = Client::open(connector, Credentials::new(auth_key_id, key), true)
            .map_err(|e| HsmError::Session(e.to_string()))?;
        #[cfg(feature = "rehearsal")]
        let device = match connection {
            Connection::Mock => Some(device.unwrap_or_default()),
            Connection::Usb => None,
        };
        #[cfg(feature = "rehearsal")]
        if let Some(d) = &device {
            d.session(auth_key_id);
        }
        Ok(Self {
            client,
            connection,
            auth_key: auth_key_id,
            domain: Domain::DOM1,
            #[cfg(feature = "rehearsal")]
            device,
        })
    }

    /// This session, making new keys and objects in key domain `n` (1 to 16; the
    /// default is 1).
    pub fn in_domain(mut self, n: u8) -> Result<Self, HsmError> {
        let bits = n
            .checked_sub(1)
            .filter(|b| *b < 16)
            .and_then(|b| Domain::from_bits(1 << b))
            .ok_or_else(|| HsmError::Device(format!("key domain {n}: expected 1 to 16")))?;
        self.domain = bits;
        Ok(self)
    }

    /// Runs `op` as device command `cmd` about objects `target` and `second` (0xffff
    /// for none): on MockHsm, as the device would run it (refused while a forced-audit
    /// log is full, and logged).
    pub fn logged<T>(
        &self,
        cmd: Code,
        [target, second]: [u16; 2],
        op: impl FnOnce() -> Result<T, yubihsm::client::Error>,
    ) -> Result<T, HsmError> {
        #[cfg(feature = "rehearsal")]
        if let Some(d) = &self.device {
            return d.run(cmd, [self.auth_key, target, second], || op().map_err(dev));
        }
        let _ = (cmd, target, second);
        op().map_err(dev)
    }

    /// Turns the device's forced auditing on: from then on a full audit log stops every
    /// logged command until it is read (`SigningBackend::audit_log`) and consumed.
    pub fn force_audit(&self) -> Result<(), HsmError> {
        self.logged(Code::SetOption, [0xffff; 2], || {
            self.client
                .set_force_audit_option(yubihsm::audit::AuditOption::On)
        })?;
        #[cfg(feature = "rehearsal")]
        if let Some(d) = &self.device {
            d.force_audit(true);
        }
        Ok(())
    }

    /// Turns the device's logging of `commands` off: commands that only read (object
    /// lists, public keys, the ledger anchor) need not fill the audit log that forced
    /// auditing makes custodians drain.
    pub fn unlog(&self, commands: &[Code]) -> Result<(), HsmError> {
        self.command_audit(commands, yubihsm::audit::AuditOption::Off)
    }

    /// Fixes the device's logging of `commands` on: no credential can turn it off again
    /// short of a factory reset (which erases the keys).
    pub fn fix_logging(&self, commands: &[Code]) -> Result<(), HsmError> {
        self.command_audit(commands, yubihsm::audit::AuditOption::Fix)
    }

    fn command_audit(
        &self,
        commands: &[Code],
        option: yubihsm::audit::AuditOption,
    ) -> Result<(), HsmError> {
        for &cmd in commands {
            #[cfg(feature = "rehearsal")]
            if let Some(d) = &self.device {
                match option {
                    yubihsm::audit::AuditOption::Off => d.command_audit(cmd, false)?,
                    yubihsm::audit::AuditOption::Fix => d.fix_command_audit(cmd),
                    _ => d.command_audit(cmd, true)?,
                }
            }
            self.logged(Code::SetOption, [0xffff; 2], || {
                self.client.set_command_audit_option(cmd, option)
            })?;
        }
        Ok(())
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
                "MockHsm, YubiHSM 2 emulated — NOT A HARDWARE SECURITY MODULE".into()
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
        let filter = [object::Filter::Type(object::Type::AsymmetricKey)];
        let entries = self.logged(Code::ListObjects, [0xffff; 2], || {
            self.client.list_objects(&filter)
        })?;
        let mut keys = Vec::new();
        for e in entries {
            let id = e.object_id;
            let info = self.logged(Code::GetObjectInfo, [id, 0xffff], || {
                self.client.get_object_info(id, object::Type::AsymmetricKey)
            })?;
            let public = || {
                self.logged(Code::GetPublicKey, [id, 0xffff], || {
                    self.client.get_public_key(id)
                })
            };
            let (algorithm, public_key) = match info.algorithm {
                yubihsm::Algorithm::Asymmetric(asymmetric::Algorithm::EcK256) => (
                    KeyAlgorithm::Secp256k1,
                    compress_k256(public()?.as_slice()).ok_or(HsmError::BadSignature(id))?,
                ),
                yubihsm::Algorithm::Asymmetric(asymmetric::Algorithm::Ed25519) => {
                    (KeyAlgorithm::Ed25519, public()?.as_slice().to_vec())
                }
                _ => continue,
            };
            keys.push(KeyInfo {
                id,
                label: info.label.to_string(),
                algorithm,
                capabilities: caps_from_yubi(info.capabilities),
                public_key,
            });
        }
        keys.sort_by_key(|k| k.id);
        Ok(keys)
    }

    fn generate_key(&self, key: &NewKey<'_>) -> Result<KeyInfo, HsmError> {
        let (alg, caps) = self.new_key(key, Capability::GENERATE_ASYMMETRIC_KEY)?;
        let (id, label) = (key.id, object::Label::from(key.label));
        #[cfg(feature = "rehearsal")]
        if self.device.is_some() && key.algorithm == KeyAlgorithm::Ed25519 {
            // Made from a seed the emulation keeps, so that wrap and import can keep
            // the key as the device does (see `emulated`).
            let seed = emulated::new_ed25519_seed();
            self.logged(Code::GenerateAsymmetricKey, [id, 0xffff], || {
                self.client
                    .put_asymmetric_key(id, label, self.domain, caps, alg, seed.to_vec())
            })?;
            return self.key(id);
        }
        self.logged(Code::GenerateAsymmetricKey, [id, 0xffff], || {
            self.client
                .generate_asymmetric_key(id, label, self.domain, caps, alg)
        })?;
        self.key(id)
    }

    fn sign_ecdsa_prehash(&self, id: u16, digest: &[u8; 32]) -> Result<Vec<u8>, HsmError> {
        self.permitted(Capability::SIGN_ECDSA, Some(id))?;
        let der = self.logged(Code::SignEcdsa, [id, 0xffff], || {
            self.client.sign_ecdsa_prehash_raw(id, digest.to_vec())
        })?;
        #[cfg(feature = "rehearsal")]
        if self.device.is_some() {
            return emulated::device_ecdsa(der);
        }
        Ok(der)
    }

    fn sign_ed25519(&self, id: u16, message: &[u8]) -> Result<[u8; 64], HsmError> {
        self.permitted(Capability::SIGN_EDDSA, Some(id))?;
        let sig = self.logged(Code::SignEddsa, [id, 0xffff], || {
            self.client.sign_ed25519(id, message.to_vec())
        })?;
        Ok(sig.to_bytes())
    }

    fn read_opaque(&self, id: u16) -> Result<Option<Vec<u8>>, HsmError> {
        if !self.has_object(id, object::Type::Opaque)? {
            return Ok(None);
        }
        self.permitted(Capability::GET_OPAQUE, None)?;
        self.logged(Code::GetOpaqueObject, [id, 0xffff], || {
            self.client.get_opaque(id)
        })
        .map(Some)
    }

    fn write_opaque(&self, id: u16, label: &str, data: &[u8]) -> Result<(), HsmError> {
        if self.has_object(id, object::Type::Opaque)? {
            self.permitted(Capability::DELETE_OPAQUE, None)?;
            self.logged(Code::DeleteObject, [id, 0xffff], || {
                self.client.delete_object(id, object::Type::Opaque)
            })?;
        }
        self.permitted(Capability::PUT_OPAQUE, None)?;
        let label = object::Label::from(label);
        self.logged(Code::PutOpaqueObject, [id, 0xffff], || {
            self.client.put_opaque(
                id,
                label,
                self.domain,
                Capability::empty(),
                yubihsm::opaque::Algorithm::Data,
                data.to_vec(),
            )
        })
        .map(drop)
    }

    fn audit_log(&self) -> Result<DeviceLog, HsmError> {
        self.permitted(Capability::GET_LOG_ENTRIES, None)?;
        #[cfg(feature = "rehearsal")]
        if let Some(d) = &self.device {
            return Ok(d.log());
        }
        let log = self.client.get_log_entries().map_err(dev)?;
        Ok(DeviceLog {
            unlogged_boot: log.unlogged_boot_events,
            unlogged_auth: log.unlogged_auth_events,
            entries: log
                .entries
                .iter()
                .map(|e| LogEntry {
                    item: e.item,
                    cmd: e.cmd as u8,
                    length: e.length,
                    session_key: e.session_key,
                    target_key: e.target_key,
                    second_key: e.second_key,
                    result: e.result.to_u8(),
                    tick: e.tick,
                    digest: hex::encode(e.digest.as_ref()),
                })
                .collect(),
        })
    }

    fn consume_log(&self, item: u16) -> Result<(), HsmError> {
        self.permitted(Capability::GET_LOG_ENTRIES, None)?;
        #[cfg(feature = "rehearsal")]
        if let Some(d) = &self.device {
            return d.set_log_index(self.auth_key, item);
        }
        self.client.set_log_index(item).map_err(dev)
    }
}

impl YubiHsm {
    /// A new key as the device checks it: the session may make keys (`how`) with these
    /// capabilities in its domain, and the id is free. Its algorithm and capabilities.
    fn new_key(
        &self,
        key: &NewKey<'_>,
        how: Capability,
    ) -> Result<(asymmetric::Algorithm, Capability), HsmError> {
        let (id, algorithm) = (key.id, key.algorithm);
        let alg = match algorithm {
            KeyAlgorithm::Secp256k1 => asymmetric::Algorithm::EcK256,
            KeyAlgorithm::Ed25519 => asymmetric::Algorithm::Ed25519,
        };
        let caps = caps_to_yubi(algorithm, key.caps);
        self.permitted(how, None)?;
        self.delegable(caps, self.domain)?;
        if self.has_object(id, object::Type::AsymmetricKey)? {
            return Err(HsmError::Device(format!("object {id:#06x} already exists")));
        }
        Ok((alg, caps))
    }

    fn has_object(&self, id: u16, t: object::Type) -> Result<bool, HsmError> {
        let filter = [object::Filter::Type(t), object::Filter::Id(id)];
        let found = self.logged(Code::ListObjects, [0xffff; 2], || {
            self.client.list_objects(&filter)
        })?;
        Ok(!found.is_empty())
    }

    /// The session's authentication key as the device holds it.
    #[cfg(feature = "rehearsal")]
    fn session_key_info(&self) -> Result<object::Info, HsmError> {
        self.client
            .get_object_info(self.auth_key, object::Type::AuthenticationKey)
            .map_err(dev)
    }

    /// On MockHsm, refuses what the device refuses: an operation the session's
    /// authentication key lacks the capability for, or a key operation where the key
    /// lacks it or shares no domain with the session. (On the device, the device
    /// decides.)
    #[cfg_attr(not(feature = "rehearsal"), allow(unused_variables))]
    fn permitted(&self, cap: Capability, key: Option<u16>) -> Result<(), HsmError> {
        #[cfg(feature = "rehearsal")]
        if self.device.is_some() {
            let auth = self.session_key_info()?;
            if !auth.capabilities.contains(cap) {
                return Err(HsmError::Permission(format!(
                    "authentication key {} lacks {cap:?}",
                    self.auth_key
                )));
            }
            if let Some(id) = key {
                let k = self
                    .client
                    .get_object_info(id, object::Type::AsymmetricKey)
                    .map_err(|_| HsmError::NoSuchKey(id))?;
                if !k.capabilities.contains(cap) || !k.domains.intersects(auth.domains) {
                    return Err(HsmError::Capability(id));
                }
            }
        }
        Ok(())
    }

    /// On MockHsm, refuses a new object the session may not create: capabilities it
    /// cannot delegate, or domains it is not in.
    #[cfg_attr(not(feature = "rehearsal"), allow(unused_variables))]
    fn delegable(&self, caps: Capability, domains: Domain) -> Result<(), HsmError> {
        #[cfg(feature = "rehearsal")]
        if self.device.is_some() {
            let auth = self.session_key_info()?;
            if !auth.delegated_capabilities.contains(caps) || !auth.domains.contains(domains) {
                return Err(HsmError::Permission(format!(
                    "authentication key {} may not create an object with {caps:?} in {domains:?}",
                    self.auth_key
                )));
            }
        }
        Ok(())
    }
}
