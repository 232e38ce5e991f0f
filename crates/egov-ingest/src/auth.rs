//! Bearer tokens. The configuration holds only each token's SHA-256; a
//! presented token is hashed and compared with every configured digest in
//! constant time. The development tokens are active only when asked for
//! (`ingest.dev_tokens`). No token ever goes into a log line, a metric or an
//! answer.

use crate::limits::{RateLimit, TokenBucket};
use egov_model::System;
use egov_runtime::config::{ConfigError, IngestSection, TokenConfig};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// The development tokens: every unit of their system, active only with
/// `ingest.dev_tokens = true`.
pub const DEV_TOKENS: [(&str, System); 2] = [
    ("local-documents", System::Documents),
    ("local-onestop", System::Onestop),
];

/// Bytes of randomness in a token made by [`new_token`] (64 hex digits).
const TOKEN_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("configuration: ingest.tokens[{0}] is a development token's SHA-256; development tokens are active only with ingest.dev_tokens = true")]
    DevelopmentToken(usize),
}

type Sha = [u8; 32];

/// Who a bearer token speaks for.
#[derive(Debug)]
pub struct Sender {
    pub system: System,
    /// `None`: every unit.
    units: Option<HashSet<String>>,
    /// `None`: no rate limit.
    pub bucket: Option<TokenBucket>,
    /// Its requests in flight.
    pub in_flight: Arc<Semaphore>,
    pub max_in_flight: usize,
}

impl Sender {
    fn new(
        system: System,
        units: &[String],
        rate: Option<RateLimit>,
        max_in_flight: usize,
    ) -> Self {
        let all = units.iter().any(|u| u == "*");
        Self {
            system,
            units: (!all).then(|| units.iter().cloned().collect()),
            bucket: rate.map(|limit| TokenBucket::new(limit, Instant::now())),
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
        }
    }

    /// Takes `events` from the token's bucket, if it has one.
    pub fn charge(&self, events: usize) {
        if let Some(bucket) = &self.bucket {
            bucket.charge(events, Instant::now());
        }
    }

    pub fn may_report_for(&self, unit_code: &str) -> bool {
        self.units
            .as_ref()
            .is_none_or(|units| units.contains(unit_code))
    }
}

/// The senders ingest knows, by their token's digest.
#[derive(Debug)]
pub struct Tokens {
    senders: Vec<(Sha, Arc<Sender>)>,
    development: bool,
}

impl Tokens {
    /// The configured tokens, plus the development ones if `dev_tokens`; an
    /// error when there are none (see [`IngestSection::require_tokens`]) or a
    /// configured one is malformed.
    pub fn from_config(http: &IngestSection) -> Result<Self, AuthError> {
        http.check_tokens()?;
        http.require_tokens()?;
        let rate = RateLimit::from_config(http.rate_limit_events_per_s, http.rate_limit_burst);
        let per_token = http.max_in_flight_per_token.max(1);
        let sender =
            |system, units: &[String]| Arc::new(Sender::new(system, units, rate, per_token));
        let dev: Vec<(Sha, System)> = DEV_TOKENS
            .iter()
            .map(|(token, system)| (digest(token), *system))
            .collect();
        let mut senders = Vec::with_capacity(http.tokens.len() + dev.len());
        for (index, token) in http.tokens.iter().enumerate() {
            let sha = parse_sha(token).ok_or(ConfigError::Token {
                index,
                reason: "token_sha256 is not hexadecimal".into(),
            })?;
            if dev.iter().any(|(d, _)| *d == sha) {
                return Err(AuthError::DevelopmentToken(index));
            }
            senders.push((sha, sender(token.system, &token.units)));
        }
        if http.dev_tokens {
            let all = ["*".to_owned()];
            senders.extend(
                dev.into_iter()
                    .map(|(sha, system)| (sha, sender(system, &all))),
            );
        }
        Ok(Self {
            senders,
            development: http.dev_tokens,
        })
    }

    /// The sender of `presented`: its SHA-256 is compared with every
    /// configured digest, each comparison in constant time.
    pub fn find(&self, presented: &str) -> Option<&Arc<Sender>> {
        let presented = digest(presented);
        let mut found = None;
        for (sha, sender) in &self.senders {
            if constant_time_eq(sha, &presented) && found.is_none() {
                found = Some(sender);
            }
        }
        found
    }

    /// Whether the development tokens are active.
    pub fn development(&self) -> bool {
        self.development
    }

    /// How many tokens are active.
    pub fn len(&self) -> usize {
        self.senders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.senders.is_empty()
    }
}

fn digest(token: &str) -> Sha {
    Sha256::digest(token.as_bytes()).into()
}

fn parse_sha(token: &TokenConfig) -> Option<Sha> {
    let hex = token.token_sha256.as_bytes();
    let mut sha = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (byte, pair) in sha.iter_mut().zip(hex.chunks(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(sha)
}

/// Equal without an early exit: the time does not depend on where they differ.
fn constant_time_eq(a: &Sha, b: &Sha) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// The SHA-256 of `token` in lowercase hex: what `token_sha256` holds.
pub fn sha256_hex(token: &str) -> String {
    digest(token)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// A fresh token: 32 bytes of `rand`'s cryptographically secure generator
/// (seeded by the operating system), in hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// The configuration entry of a token (its SHA-256, never the token).
pub fn config_entry(token: &str, system: System, units: &[String]) -> String {
    let units: Vec<String> = units.iter().map(|u| format!("{u:?}")).collect();
    format!(
        "[[ingest.tokens]]\ntoken_sha256 = \"{}\"\nsystem = \"{system}\"\nunits = [{}]\n",
        sha256_hex(token),
        units.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(tokens: Vec<TokenConfig>, dev_tokens: bool) -> IngestSection {
        IngestSection {
            tokens,
            dev_tokens,
            ..IngestSection::default()
        }
    }

    fn entry(token: &str, system: System, units: &[&str]) -> TokenConfig {
        TokenConfig {
            token_sha256: sha256_hex(token),
            system,
            units: units.iter().map(|u| (*u).to_owned()).collect(),
        }
    }

    #[test]
    fn sha256_of_a_known_text() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tokens_are_found_by_their_digest_only() -> Result<(), AuthError> {
        let token = "tttttttttttttttttttttttttttttttttttttttt";
        let tokens = Tokens::from_config(&section(
            vec![entry(token, System::Onestop, &["26"])],
            false,
        ))?;
        assert_eq!(tokens.len(), 1);
        assert!(!tokens.development());
        let sender = tokens
            .find(token)
            .map(|s| (s.system, s.may_report_for("26")));
        assert_eq!(sender, Some((System::Onestop, true)));
        assert!(tokens.find(token).is_some_and(|s| !s.may_report_for("27")));
        assert!(tokens.find(&sha256_hex(token)).is_none());
        assert!(tokens.find("local-onestop").is_none());
        assert!(tokens.find("").is_none());
        Ok(())
    }

    #[test]
    fn development_tokens_only_when_asked_for() -> Result<(), AuthError> {
        assert!(matches!(
            Tokens::from_config(&section(Vec::new(), false)),
            Err(AuthError::Config(ConfigError::NoTokens))
        ));
        let tokens = Tokens::from_config(&section(Vec::new(), true))?;
        assert!(tokens.development());
        for (token, system) in DEV_TOKENS {
            assert!(tokens
                .find(token)
                .is_some_and(|s| s.system == system && s.may_report_for("anything")));
        }
        // A configured development token is refused, with or without dev_tokens.
        for dev in [false, true] {
            let configured = section(vec![entry("local-onestop", System::Onestop, &["*"])], dev);
            assert!(matches!(
                Tokens::from_config(&configured),
                Err(AuthError::DevelopmentToken(0))
            ));
        }
        Ok(())
    }

    #[test]
    fn new_tokens_are_long_random_and_their_entry_holds_only_the_digest() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        let entry = config_entry(
            &a,
            System::Documents,
            &["26".into(), "000.00.02.H62".into()],
        );
        assert!(!entry.contains(&a));
        assert_eq!(
            entry,
            format!(
                "[[ingest.tokens]]\ntoken_sha256 = \"{}\"\nsystem = \"documents\"\nunits = [\"26\", \"000.00.02.H62\"]\n",
                sha256_hex(&a)
            )
        );
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        let a = digest("a");
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
    }
}
