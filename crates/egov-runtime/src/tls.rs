//! TLS of the HTTP clients (rustls with the `ring` provider): which
//! certificates a client trusts, from one place, for every ClickHouse client
//! (the `clickhouse` crate's and the reqwest ones, both built in
//! [`crate::clickhouse`]).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificates from {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("no PEM certificate in {0}")]
    NoCertificate(PathBuf),
    #[error("certificate in {path} not usable: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("http client: {0}")]
    Http(String),
}

/// Every certificate of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read_error = |reason: String| TlsError::Read {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| read_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

/// A client configuration that trusts the CA(s) of `ca_file` only, or the
/// public web roots without one.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in load_certs(path)? {
                roots.add(cert).map_err(|e| TlsError::Invalid {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error() -> anyhow::Result<()> {
        let missing = Path::new("/nonexistent/egov-ca.pem");
        assert!(matches!(
            client_config(Some(missing)),
            Err(TlsError::Read { .. })
        ));
        let dir = std::env::temp_dir().join(format!("egov-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n")?;
        let result = client_config(Some(&empty));
        std::fs::remove_dir_all(&dir)?;
        assert!(matches!(result, Err(TlsError::NoCertificate(_))));
        Ok(())
    }

    #[test]
    fn without_a_ca_file_the_web_roots_are_trusted() -> anyhow::Result<()> {
        client_config(None)?;
        Ok(())
    }
}
