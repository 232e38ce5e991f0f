use super::*;
use egov_model::model::System;

const HASH_A: &str = "a3f5a3f5a3f5a3f5a3f5a3f5a3f5a3f5a3f5a3f5a3f5a3f5a3f5a3f5a3f5a3f5";

/// A file of its own with `text`; removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("egov-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("egov.toml");
        std::fs::write(&file, text)?;
        Ok(Self(file))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn var(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

#[test]
fn defaults_have_no_tokens_and_refuse_to_serve() {
    let settings = Settings::default();
    assert_eq!(settings.ingest.listen, "127.0.0.1:8080");
    assert!(settings.ingest.tokens.is_empty());
    assert!(!settings.ingest.dev_tokens);
    let refusal = settings.ingest.require_tokens();
    assert!(matches!(refusal, Err(ConfigError::NoTokens)));
    let message = refusal.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("egov token new"), "{message}");
    assert!(
        message.contains("EGOV__INGEST__DEV_TOKENS=true"),
        "{message}"
    );
    assert!(!message.contains("local-"), "{message}");
}

#[test]
fn development_tokens_only_when_asked_for() -> anyhow::Result<()> {
    let settings = Settings::load_from(None, &[var("EGOV__INGEST__DEV_TOKENS", "true")])?;
    assert!(settings.ingest.dev_tokens);
    settings.ingest.require_tokens()?;
    Ok(())
}

#[test]
fn file_overrides_defaults() -> anyhow::Result<()> {
    let file = TempFile::new(
        "overrides",
        &format!("[kafka]\nraw_topic = \"t.raw\"\n[load]\nbatch_max_rows = 7\n\n[[ingest.tokens]]\ntoken_sha256 = \"{HASH_A}\"\nsystem = \"onestop\"\nunits = [\"26\"]\n"),
    )?;
    let settings = Settings::load_from(Some(&file.0), &[var("EGOV__LOAD__BATCH_MAX_ROWS", "9")])?;
    assert_eq!(settings.kafka.raw_topic, "t.raw");
    assert_eq!(settings.kafka.curated_topic, "egov.curated.v1");
    assert_eq!(settings.load.batch_max_rows, 9);
    assert_eq!(settings.ingest.tokens.len(), 1);
    assert_eq!(settings.ingest.tokens[0].system, System::Onestop);
    settings.ingest.require_tokens()?;
    Ok(())
}

fn load_error(text: &str, env: &[(String, String)]) -> anyhow::Result<String> {
    let file = TempFile::new(&format!("e{}", text.len()), text)?;
    match Settings::load_from(Some(&file.0), env) {
        Ok(_) => anyhow::bail!("accepted: {text} {env:?}"),
        Err(error) => Ok(error.to_string()),
    }
}

#[test]
fn an_unknown_key_is_named_with_its_origin() -> anyhow::Result<()> {
    // A typo of the token list: `token` for `tokens`.
    let message = load_error(
        &format!("[[ingest.token]]\ntoken_sha256 = \"{HASH_A}\"\nsystem = \"onestop\"\nunits = [\"*\"]\n"),
        &[],
    )?;
    assert!(message.contains("unknown key `ingest.token`"), "{message}");
    assert!(message.contains("egov.toml"), "{message}");
    // The old form with the token itself.
    let message = load_error(
        "[[ingest.tokens]]\ntoken = \"local-onestop\"\nsystem = \"onestop\"\nunits = [\"*\"]\n",
        &[],
    )?;
    assert!(message.contains("`ingest.tokens.0.token`"), "{message}");
    assert!(message.contains("token_sha256"), "{message}");
    assert!(!message.contains("local-onestop"), "{message}");
    let message = load_error("[kafka]\nbroker = \"x:9092\"\n", &[])?;
    assert!(message.contains("`kafka.broker`"), "{message}");
    let message = load_error("[ingset]\nlisten = \"x\"\n", &[])?;
    assert!(message.contains("`ingset`"), "{message}");
    // In the environment: the variable is named.
    let message = load_error("", &[var("EGOV__INGEST__TOKEN", "local-onestop")])?;
    assert!(
        message.contains("environment variable EGOV__INGEST__TOKEN"),
        "{message}"
    );
    assert!(
        message.contains("unknown key `EGOV__INGEST__TOKEN`"),
        "{message}"
    );
    assert!(!message.contains("local-onestop"), "{message}");
    let message = load_error("", &[var("EGOV__KAFKA__BROKER", "x:9092")])?;
    assert!(message.contains("EGOV__KAFKA__BROKER"), "{message}");
    let message = load_error("", &[var("EGOV__INGEST__MAX_EVENTS", "many")])?;
    assert!(message.contains("EGOV__INGEST__MAX_EVENTS"), "{message}");
    Ok(())
}

#[test]
fn malformed_or_repeated_tokens_are_errors() -> anyhow::Result<()> {
    let entry = |hash: &str, units: &str| {
        format!(
            "[[ingest.tokens]]\ntoken_sha256 = \"{hash}\"\nsystem = \"onestop\"\nunits = {units}\n"
        )
    };
    let message = load_error(&entry("short", "[\"*\"]"), &[])?;
    assert!(
        message.contains("ingest.tokens[0]") && message.contains("64 hexadecimal"),
        "{message}"
    );
    let message = load_error(&entry(&"g".repeat(64), "[\"*\"]"), &[])?;
    assert!(message.contains("64 hexadecimal"), "{message}");
    let message = load_error(&entry(HASH_A, "[]"), &[])?;
    assert!(message.contains("units is empty"), "{message}");
    let twice = entry(HASH_A, "[\"26\"]") + &entry(&HASH_A.to_uppercase(), "[\"*\"]");
    let message = load_error(&twice, &[])?;
    assert!(
        message.contains("ingest.tokens[0] and ingest.tokens[1] are the same token"),
        "{message}"
    );
    Ok(())
}

#[test]
fn security_settings_are_read_and_passwords_never_printed() -> anyhow::Result<()> {
    let file = TempFile::new(
        "sec",
        "[kafka]\nsecurity_protocol = \"sasl_ssl\"\nsasl_mechanism = \"SCRAM-SHA-512\"\n\
         sasl_username = \"egov\"\nsasl_password = \"kafka-pw-123\"\nssl_ca_file = \"/etc/egov/ca.pem\"\n\
         [clickhouse]\nurl = \"https://ch:8443\"\npassword = \"ch-pw-456\"\nca_file = \"/etc/egov/ch-ca.pem\"\n",
    )?;
    let settings = Settings::load(Some(&file.0))?;
    let kafka = &settings.kafka;
    assert_eq!(kafka.security_protocol, SecurityProtocol::SaslSsl);
    assert_eq!(kafka.security_protocol.as_librdkafka(), "sasl_ssl");
    assert_eq!(kafka.sasl_mechanism.as_str(), "SCRAM-SHA-512");
    assert_eq!(kafka.sasl_username, "egov");
    assert_eq!(kafka.sasl_password.expose(), "kafka-pw-123");
    assert_eq!(kafka.ssl_ca_file, Some(PathBuf::from("/etc/egov/ca.pem")));
    assert_eq!(settings.clickhouse.password.expose(), "ch-pw-456");
    assert_eq!(
        settings.clickhouse.ca_file,
        Some(PathBuf::from("/etc/egov/ch-ca.pem"))
    );
    let printed = format!(
        "{settings:?} {} {}",
        kafka.sasl_password, settings.clickhouse.password
    );
    assert!(!printed.contains("kafka-pw-123") && !printed.contains("ch-pw-456"));
    assert!(printed.contains("[redacted]"));
    Ok(())
}

#[test]
fn sasl_without_credentials_is_refused_at_load() -> anyhow::Result<()> {
    let file = TempFile::new("sasl", "[kafka]\nsecurity_protocol = \"sasl_ssl\"\n")?;
    let result = Settings::load(Some(&file.0));
    let error = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("needs kafka.sasl_username and kafka.sasl_password"),
        "{error}"
    );
    Ok(())
}

#[test]
fn passwords_from_the_environment_are_taken_as_written() {
    let mut settings = Settings::default();
    settings.clickhouse.password = Secret::new("123");
    settings.take_secrets_as_written(|name| {
        (name == "EGOV__CLICKHOUSE__PASSWORD").then(|| "0123".to_owned())
    });
    assert_eq!(settings.clickhouse.password.expose(), "0123");
    assert!(settings.kafka.sasl_password.is_empty());
}

#[test]
fn security_is_off_by_default() {
    let settings = Settings::default();
    assert_eq!(
        settings.kafka.security_protocol,
        SecurityProtocol::Plaintext
    );
    assert!(settings.kafka.ssl_ca_file.is_none());
    assert!(settings.clickhouse.ca_file.is_none());
    assert!(settings.clickhouse.password.is_empty());
}

#[test]
fn a_clickhouse_cluster_needs_plain_names() -> anyhow::Result<()> {
    let settings = Settings::load_from(None, &[var("EGOV__CLICKHOUSE__CLUSTER", "egov")])?;
    assert_eq!(settings.clickhouse.cluster.as_deref(), Some("egov"));
    assert_eq!(Settings::default().clickhouse.cluster, None);
    let error = load_error("[clickhouse]\ncluster = \"egov; DROP\"\n", &[])?;
    assert!(error.contains("clickhouse.cluster"), "{error}");
    let error = load_error(
        "[clickhouse]\ncluster = \"c1\"\ndatabase = \"my-db\"\n",
        &[],
    )?;
    assert!(error.contains("clickhouse.database"), "{error}");
    // Without a cluster the database name is quoted, not restricted.
    load_error("[clickhouse]\ndatabase = \"my-db\"\n", &[]).err();
    Ok(())
}

#[test]
fn scorecard_settings_have_defaults_and_are_checked() -> anyhow::Result<()> {
    let defaults = Settings::load_from(None, &[])?.scorecard;
    assert_eq!(defaults, ScorecardSection::default());
    assert_eq!(defaults.silent_after_days, 7);
    assert_eq!(defaults.min_signing_rate, 0.90);
    assert_eq!(defaults.min_on_time_rate, 0.95);
    let file = TempFile::new("scorecard", "[scorecard]\nsilent_after_days = 14\n")?;
    let settings = Settings::load_from(
        Some(&file.0),
        &[var("EGOV__SCORECARD__MIN_ON_TIME_RATE", "0.8")],
    )?;
    assert_eq!(settings.scorecard.silent_after_days, 14);
    assert_eq!(settings.scorecard.min_on_time_rate, 0.8);
    let message = load_error("[scorecard]\nmin_signed_rate = 0.9\n", &[])?;
    assert!(message.contains("`scorecard.min_signed_rate`"), "{message}");
    let message = load_error("[scorecard]\nmin_signing_rate = 90\n", &[])?;
    assert!(message.contains("between 0 and 1"), "{message}");
    let message = load_error("[scorecard]\nsilent_after_days = 0\n", &[])?;
    assert!(message.contains("silent_after_days"), "{message}");
    Ok(())
}
