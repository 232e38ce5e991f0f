//! The HTTP server of ingest: an accept loop over hyper's HTTP/1.1 that caps
//! the connections open at once, closes a connection that does not send a
//! whole request head in time (idle keep-alive connections included), serves
//! HTTPS with rustls when given a certificate and key, and stops gracefully:
//! no new connections, requests in flight answered, then return.

use crate::IngestError;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

/// How connections are accepted and served.
#[derive(Clone)]
pub struct ServeOptions {
    /// For the TLS handshake and for each request head (and between requests).
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    /// HTTPS when set.
    pub tls: Option<TlsAcceptor>,
}

/// A TLS acceptor (TLS 1.2 and 1.3, HTTP/1.1 over ALPN) from a PEM
/// certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn tls_acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, IngestError> {
    let tls = |what: &str, file: &Path, error: &dyn std::fmt::Display| {
        IngestError::Tls(format!("{what} {}: {error}", file.display()))
    };
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| tls("certificate file", cert_file, &e))?;
    if certs.is_empty() {
        return Err(tls("certificate file", cert_file, &"no certificate in it"));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| tls("key file", key_file, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| tls("certificate and key", cert_file, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` until `stop` completes, then closes the
/// listener, lets every connection finish its request in flight and returns
/// once all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    let open = metrics::gauge!("egov_ingest_connections_open");
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted.
                    warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("egov_ingest_connections_refused_total").increment(1);
            debug!(%peer, "connection refused: too many open");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (builder, router, watcher, tls) = (
            builder.clone(),
            router.clone(),
            graceful.watcher(),
            options.tls.clone(),
        );
        let (timeout, open) = (options.header_read_timeout, open.clone());
        tokio::spawn(async move {
            open.increment(1.0);
            match tls {
                None => connection(&builder, stream, router, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection(&builder, stream, router, watcher).await,
                        Ok(Err(error)) => debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            open.decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn connection<I>(builder: &http1::Builder, io: I, router: Router, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    if let Err(error) = watcher.watch(connection).await {
        debug!(%error, "connection ended with an error");
    }
}
