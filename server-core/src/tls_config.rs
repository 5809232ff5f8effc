//! Ready-made rustls server configurations for [`Options::tls`](crate::Options::tls):
//! from PEM files, or (cargo feature `self-signed`) a certificate made at start for
//! development, so that nobody assembles keys and certificate chains by hand.
//!
//! ```
//! # #[cfg(feature = "self-signed")] {
//! use roadrunner_core::{tls_config, Options, Request, Routes};
//!
//! let mut opts = Options::new(8443, Routes::handler(|_req: Request| async { "secure" }));
//! let dev = tls_config::self_signed(&["localhost", "127.0.0.1"]).unwrap();
//! opts.tls = Some(dev.config);
//! // A client trusts `dev.cert_pem` (`curl --cacert`), or skips the check (`curl -k`).
//! assert!(dev.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! # }
//! ```

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Why a TLS configuration could not be made.
#[derive(Debug)]
pub struct TlsConfigError(String);

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsConfigError {}

/// A server configuration for the certificate chain in the PEM file `cert` (leaf
/// first) and the private key in the PEM file `key` (PKCS#8, PKCS#1 or SEC1), on
/// rustls' safe defaults with the `ring` provider. ALPN is set by the listener from
/// `protocols`.
pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let in_file =
        |path: &Path, e: &dyn fmt::Display| TlsConfigError(format!("{}: {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| in_file(cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| in_file(key, &e))?;
    config(certs, key)
}

fn config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map(Arc::new)
        .map_err(|e| TlsConfigError(e.to_string()))
}

/// A certificate made by [`self_signed`], and the server configuration serving it.
#[cfg(feature = "self-signed")]
#[derive(Clone, Debug)]
pub struct SelfSigned {
    /// For [`Options::tls`](crate::Options::tls).
    pub config: Arc<ServerConfig>,
    /// The certificate, for a client to trust (a rustls `RootCertStore`).
    pub cert: CertificateDer<'static>,
    /// The certificate in PEM, for a client to trust (`curl --cacert FILE`).
    pub cert_pem: String,
}

/// A fresh self-signed certificate for `names` (host names or IP addresses, such as
/// `localhost` and `127.0.0.1`) and a server configuration serving it: for development
/// and tests, where no client trusts it unless told to.
#[cfg(feature = "self-signed")]
pub fn self_signed(names: &[&str]) -> Result<SelfSigned, TlsConfigError> {
    let names = names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let made =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsConfigError(e.to_string()))?;
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
        .map_err(|e| TlsConfigError(e.to_owned()))?;
    let cert = made.cert.der().clone();
    Ok(SelfSigned {
        config: config(vec![cert.clone()], key)?,
        cert,
        cert_pem: made.cert.pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named_in_the_error() {
        let nowhere = Path::new("/nonexistent/roadrunner/cert.pem");
        let err = from_pem_files(nowhere, nowhere).expect_err("no such file");
        assert!(
            err.to_string()
                .starts_with("/nonexistent/roadrunner/cert.pem: "),
            "{err}"
        );
    }

    #[cfg(feature = "self-signed")]
    #[test]
    fn pem_files_give_the_same_certificate() {
        let made =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let dir = std::env::temp_dir().join(format!("rr-tls-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).expect("cert");
        std::fs::write(&key, made.signing_key.serialize_pem()).expect("key");
        let loaded = from_pem_files(&cert, &key);
        std::fs::remove_dir_all(&dir).expect("clean up");
        assert!(loaded.is_ok(), "{loaded:?}");
    }
}
