//! ClickHouse access: every connection to ClickHouse is built here (load,
//! migrate, reconcile, report, scorecard, dashboard, status, readiness).
//! Settings chosen so the same client works against 18.16 (local) and current
//! releases (production): no RowBinaryWithNamesAndTypes validation, and no
//! compression on queries. Every client speaks `http://` or `https://` as
//! `clickhouse.url` says, trusting `clickhouse.ca_file` (see [`crate::tls`]).

use crate::config::ClickHouseConfig;
use crate::tls::{client_config, TlsError};
use ::clickhouse::error::{Error, Result};
use ::clickhouse::{Client, Compression};
use chrono::{DateTime, Utc};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// A client for inserts (lz4 is fine for inserts on every version). With
/// `clickhouse.cluster`, an insert into a `Distributed` table answers only once
/// every row is written on a replica of its shard (`insert_distributed_sync`), so
/// load stores its offsets after the rows are durable on their shards.
pub fn insert_client(config: &ClickHouseConfig) -> Result<Client> {
    let client = base(config)?
        .with_database(&config.database)
        .with_compression(Compression::Lz4);
    Ok(match config.cluster {
        Some(_) => client.with_setting("insert_distributed_sync", "1"),
        None => client,
    })
}

/// A client for queries and DDL: 18.16 answers lz4-compressed SELECTs in a way
/// the client cannot read, so queries go uncompressed.
pub fn query_client(config: &ClickHouseConfig) -> Result<Client> {
    Ok(base(config)?
        .with_database(&config.database)
        .with_compression(Compression::None))
}

/// A client without a default database, for `CREATE DATABASE`.
pub fn server_client(config: &ClickHouseConfig) -> Result<Client> {
    Ok(base(config)?.with_compression(Compression::None))
}

fn base(config: &ClickHouseConfig) -> Result<Client> {
    let tls =
        client_config(config.ca_file.as_deref()).map_err(|e| Error::InvalidParams(Box::new(e)))?;
    // What the crate's default client does, plus TLS: TCP keepalive, and idle
    // connections dropped before ClickHouse's keep-alive timeout (3 s) does.
    let mut http = HttpConnector::new();
    http.set_keepalive(Some(Duration::from_secs(60)));
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let http_client = HyperClient::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(2))
        .build(connector);
    let mut client = Client::with_http_client(http_client)
        .with_url(&config.url)
        .with_user(&config.user)
        .with_validation(false);
    if !config.password.is_empty() {
        client = client.with_password(config.password.expose());
    }
    if config.read_only {
        // ClickHouse refuses anything but reading (and changing settings) on
        // such a query, whatever the user may do otherwise.
        client = client.with_setting("readonly", "1");
    }
    Ok(client)
}

/// Whether the server manages users with SQL (`CREATE USER`, `GRANT`): the
/// releases that do have the table `system.users`; 18.16 has neither.
pub async fn has_sql_users(config: &ClickHouseConfig) -> Result<bool> {
    let tables: u64 = server_client(config)?
        .query("SELECT count() FROM system.tables WHERE database = 'system' AND name = 'users'")
        .fetch_one()
        .await?;
    Ok(tables > 0)
}

/// When `events` of `database` last got a new part (an insert, or a merge;
/// `events_local` on a cluster's server): what operators read as the last
/// insert. `None` when it has none.
pub async fn last_insert(client: &Client, database: &str) -> Result<Option<DateTime<Utc>>> {
    let seconds: u32 = client
        .query(
            "SELECT toUInt32(max(modification_time)) FROM system.parts \
             WHERE database = ? AND table IN ('events', 'events_local') AND active",
        )
        .bind(database)
        .fetch_one()
        .await?;
    Ok(time_of_ms(i64::from(seconds) * 1_000))
}

/// The latest `ingested_ms` in `events`: when the newest event was accepted.
pub async fn last_ingested(client: &Client) -> Result<Option<DateTime<Utc>>> {
    let ms: u64 = client
        .query("SELECT max(ingested_ms) FROM events")
        .fetch_one()
        .await?;
    Ok(time_of_ms(i64::try_from(ms).unwrap_or(i64::MAX)))
}

/// A time ClickHouse answered in milliseconds since the epoch; `None` for 0,
/// which `max` of no rows answers.
pub fn time_of_ms(ms: i64) -> Option<DateTime<Utc>> {
    (ms > 0)
        .then(|| DateTime::<Utc>::from_timestamp_millis(ms))
        .flatten()
}

/// Quotes an identifier for SQL; database names come from configuration.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// A short reason for a failed query, for an operator's screen:
/// `connection refused`, or the first line of the server's answer, or the
/// innermost cause.
pub fn describe_error(error: &Error) -> String {
    if let Some(io) = crate::ops::find_io_error(error) {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return "connection refused".to_owned();
        }
    }
    let text = match error {
        Error::BadResponse(answer) => answer.clone(),
        _ => {
            let mut root: &dyn std::error::Error = error;
            while let Some(source) = root.source() {
                root = source;
            }
            root.to_string()
        }
    };
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(160)
        .collect()
}

/// An HTTP client for ClickHouse's HTTP interface (`http://` or `https://`
/// per `clickhouse.url`, trusting `clickhouse.ca_file`), each request within
/// `timeout`.
pub fn http(
    config: &ClickHouseConfig,
    timeout: Duration,
) -> std::result::Result<reqwest::Client, TlsError> {
    reqwest::Client::builder()
        .use_preconfigured_tls(client_config(config.ca_file.as_deref())?)
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| TlsError::Http(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_not_listening_is_described_in_two_words() -> anyhow::Result<()> {
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let config = ClickHouseConfig {
            url: format!("http://127.0.0.1:{port}"),
            ..ClickHouseConfig::default()
        };
        let error = query_client(&config)?
            .query("SELECT 1")
            .fetch_one::<u8>()
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("a query without a server succeeded"))?;
        assert_eq!(describe_error(&error), "connection refused");
        Ok(())
    }

    #[test]
    fn without_a_ca_file_the_web_roots_are_trusted() -> anyhow::Result<()> {
        http(&ClickHouseConfig::default(), Duration::from_secs(1))?;
        Ok(())
    }
}
