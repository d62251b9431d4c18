//! Connections to PostgreSQL. TLS through rustls whenever the parameters' `sslmode`
//! asks for it (`prefer`, the default, or `require`), always verifying the server's
//! certificate chain and name — against `--db-ca` when given, else the public web roots.
//! A pooled connection that closed, or that stopped answering while idle (a restarted or
//! failed-over server), is replaced before it is used, so one outage does not leave the
//! pool broken until the coordinator restarts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::db;
use crate::store::StoreError;

/// A connection idle longer than this is checked before use.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// How long that check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Connect timeout unless the parameters give one.
const CONNECT_TIMEOUT_SECS: u32 = 10;

/// Opens connections with one set of parameters and one TLS configuration.
pub struct Connector {
    params: String,
    tls: MakeRustlsConnect,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The parameters may carry the password.
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

impl Connector {
    /// `params` as libpq keywords (`host=… port=… user=… dbname=… [sslmode=…]`); `ca_pem`
    /// the certificates the server's chain must end in (PEM), else the web roots.
    pub fn new(params: &str, ca_pem: Option<&[u8]>) -> Result<Self, StoreError> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_pem {
            Some(pem) => {
                use rustls::pki_types::pem::PemObject;
                let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
                    .collect::<Result<_, _>>()
                    .map_err(|e| StoreError::Backend(format!("database CA file: {e}")))?;
                if certs.is_empty() {
                    return Err(StoreError::Backend(
                        "database CA file: no certificate in it".into(),
                    ));
                }
                for c in certs {
                    roots
                        .add(c)
                        .map_err(|e| StoreError::Backend(format!("database CA file: {e}")))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut params = params.trim().to_string();
        if !params
            .split_whitespace()
            .any(|p| p.starts_with("connect_timeout"))
        {
            params.push_str(&format!(" connect_timeout={CONNECT_TIMEOUT_SECS}"));
        }
        Ok(Self {
            params,
            tls: MakeRustlsConnect::new(config),
        })
    }

    /// A new connection.
    pub fn connect(&self) -> Result<Client, StoreError> {
        Client::connect(&self.params, self.tls.clone()).map_err(db)
    }
}

impl std::ops::Deref for Slot {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Slot {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// A pooled connection and when it was last handed out.
pub struct Slot {
    client: Client,
    used: Instant,
}

impl Slot {
    /// A slot over a new connection.
    pub fn open(c: &Connector) -> Result<Self, StoreError> {
        Ok(Self {
            client: c.connect()?,
            used: Instant::now(),
        })
    }

    /// The connection, replaced first if it closed or, after being idle, does not
    /// answer.
    pub fn fresh(&mut self, c: &Connector) -> Result<&mut Client, StoreError> {
        let stale = self.client.is_closed()
            || (self.used.elapsed() > IDLE_CHECK && self.client.is_valid(CHECK_TIMEOUT).is_err());
        if stale {
            tracing::warn!("a database connection was lost; reconnecting");
            self.client = c.connect()?;
        }
        self.used = Instant::now();
        Ok(&mut self.client)
    }
}
