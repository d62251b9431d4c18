//! `init`: take a factory-fresh HSM, install the quorum credential as the operating
//! authentication key, remove the factory key, and force auditing.

use yubihsm::{authentication, command::Code, object, Capability, Domain};

use crate::hsm::{HsmError, YubiHsm};
use crate::quorum::Credential;

/// Object id of the operating authentication key (the quorum credential).
pub const OPERATING_KEY_ID: u16 = 0x0002;
const FACTORY_KEY_ID: u16 = 1;

/// Commands whose logging is fixed on at init: whatever signs, moves a key in or out, or
/// changes who may do what or what is logged. No credential can turn their logging off
/// short of a factory reset.
pub const ALWAYS_LOGGED: [Code; 13] = [
    Code::SignEcdsa,
    Code::SignEddsa,
    Code::ExportWrapped,
    Code::ImportWrapped,
    Code::PutWrapKey,
    Code::GenerateWrapKey,
    Code::PutAsymmetricKey,
    Code::GenerateAsymmetricKey,
    Code::PutAuthenticationKey,
    Code::DeleteObject,
    Code::PutOpaqueObject,
    Code::SetOption,
    Code::SetLogIndex,
];

/// Commands the station runs that only read, left out of the device's audit log.
pub const READ_ONLY: [Code; 5] = [
    Code::ListObjects,
    Code::GetObjectInfo,
    Code::GetPublicKey,
    Code::GetOpaqueObject,
    Code::GetOption,
];

fn dev(e: impl std::fmt::Display) -> HsmError {
    HsmError::Device(e.to_string())
}

/// Runs the init ceremony on a session opened with the factory credential, and returns
/// a session opened with the quorum credential. The factory key is deleted only after
/// the new credential has been shown to open a session, so a failed step loses nothing.
pub fn init(factory: &YubiHsm, credential: &Credential) -> Result<YubiHsm, HsmError> {
    let caps = Capability::GENERATE_ASYMMETRIC_KEY
        // Keys restored from a seed split among custodians are imported.
        | Capability::PUT_ASYMMETRIC_KEY
        | Capability::SIGN_ECDSA
        | Capability::SIGN_EDDSA
        | Capability::EXPORT_WRAPPED
        | Capability::IMPORT_WRAPPED
        | Capability::GENERATE_WRAP_KEY
        | Capability::PUT_WRAP_KEY
        | Capability::PUT_AUTHENTICATION_KEY
        | Capability::DELETE_AUTHENTICATION_KEY
        | Capability::GET_LOG_ENTRIES
        | Capability::PUT_OPTION
        // The ledger anchor is an opaque object, rewritten after each signing.
        | Capability::GET_OPAQUE
        | Capability::PUT_OPAQUE
        | Capability::DELETE_OPAQUE;
    let delegated = Capability::SIGN_ECDSA
        | Capability::SIGN_EDDSA
        | Capability::EXPORTABLE_UNDER_WRAP
        | Capability::EXPORT_WRAPPED
        | Capability::IMPORT_WRAPPED;
    let key = authentication::Key::from_slice(credential.expose()).map_err(dev)?;
    factory.logged(
        Code::PutAuthenticationKey,
        [OPERATING_KEY_ID, 0xffff],
        || {
            factory.client().put_authentication_key(
                OPERATING_KEY_ID,
                object::Label::from("strongroom-quorum"),
                Domain::all(),
                caps,
                delegated,
                authentication::Algorithm::YubicoAes,
                key,
            )
        },
    )?;
    let session = factory.reopen(OPERATING_KEY_ID, credential.expose())?;
    session.logged(Code::DeleteObject, [FACTORY_KEY_ID, 0xffff], || {
        session
            .client()
            .delete_object(FACTORY_KEY_ID, object::Type::AuthenticationKey)
    })?;
    // What only reads is not logged; everything that uses or changes a key or an
    // object, every session and every option change is, and forced auditing stops the
    // device when its log is full until the station has read it into its ledger.
    session.unlog(&READ_ONLY)?;
    session.fix_logging(&ALWAYS_LOGGED)?;
    session.force_audit()?;
    Ok(session)
}
