//! The demo's TLS configuration: a certificate from files, or a self-signed one for
//! localhost made at start.

use std::path::Path;
use std::sync::Arc;

use roadrunner_core::rustls::pki_types::pem::PemObject;
use roadrunner_core::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use roadrunner_core::rustls::{self, ServerConfig};

/// A server configuration from PEM files, or self-signed when `files` is `None`.
pub fn config(files: Option<(&Path, &Path)>) -> Result<Arc<ServerConfig>, String> {
    let (certs, key) = match files {
        Some((cert, key)) => (
            CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: {e}", cert.display()))?,
            PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?,
        ),
        None => self_signed()?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let cert = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::try_from(cert.signing_key.serialize_der())?;
    Ok((vec![cert.cert.der().clone()], key))
}
