//! ClickHouse access shared by load, migrate and report. Settings chosen so the
//! same client works against 18.16 (local) and current releases (production):
//! no RowBinaryWithNamesAndTypes validation, and no compression on queries.

use clickhouse::{Client, Compression};
use egov_common::config::ClickHouseConfig;

/// A client for inserts (lz4 is fine for inserts on every version).
pub fn insert_client(config: &ClickHouseConfig) -> Client {
    base(config).with_compression(Compression::Lz4)
}

/// A client for queries and DDL: 18.16 answers lz4-compressed SELECTs in a way
/// the client cannot read, so queries go uncompressed.
pub fn query_client(config: &ClickHouseConfig) -> Client {
    base(config).with_compression(Compression::None)
}

fn base(config: &ClickHouseConfig) -> Client {
    let mut client = Client::default()
        .with_url(&config.url)
        .with_database(&config.database)
        .with_user(&config.user)
        .with_validation(false);
    if !config.password.is_empty() {
        client = client.with_password(&config.password);
    }
    client
}

/// A client without a default database, for `CREATE DATABASE`.
pub fn server_client(config: &ClickHouseConfig) -> Client {
    let mut client = Client::default()
        .with_url(&config.url)
        .with_user(&config.user)
        .with_validation(false)
        .with_compression(Compression::None);
    if !config.password.is_empty() {
        client = client.with_password(&config.password);
    }
    client
}

/// Quotes an identifier for SQL; database names come from configuration.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}
