//! Tokens and configuration as an operator meets them, with the `egov` binary:
//! `egov run` and `egov ingest` refuse to start without a token list; a token
//! of `egov token new` is accepted by `egov ingest` and never shown by it; the
//! development tokens work only when asked for, and are never printed; an
//! unknown key is named with its origin (`egov config check`). Against the
//! real local Kafka and ClickHouse.

use anyhow::{bail, Context};
use egov_tests::{free_port, TempDir};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `egov ARGS` with `env`, without inherited settings that would change what is tested.
fn egov(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_egov"));
    command
        .args(args)
        .env_remove("EGOV_CONFIG")
        .env_remove("EGOV__INGEST__DEV_TOKENS")
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null());
    command
}

/// Runs to the end (at most 60 s); a process still running then is a failure.
fn finish(mut command: Command) -> anyhow::Result<Output> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let started = Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill()?;
            let output = child.wait_with_output()?;
            bail!(
                "still running after 60 s: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child.wait_with_output()?)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `egov ingest` as a process of its own, on a free port, with a raw topic of
/// its own (removed on drop with the rest of the test's resources).
struct IngestProcess {
    settings: egov_runtime::config::Settings,
    child: Child,
    url: String,
    log: PathBuf,
}

impl IngestProcess {
    async fn start(label: &str, args: &[&str], env: &[(&str, String)]) -> anyhow::Result<Self> {
        let settings = egov_tests::unique_settings(label)?;
        let port = free_port()?;
        let log = std::env::temp_dir().join(format!(
            "egov-tokens-{label}-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let mut all = vec![
            ("EGOV__INGEST__LISTEN", format!("127.0.0.1:{port}")),
            ("EGOV__KAFKA__RAW_TOPIC", settings.kafka.raw_topic.clone()),
            ("EGOV__LOG__FORMAT", "json".to_owned()),
        ];
        all.extend(env.iter().cloned());
        let mut command = egov(args, &all);
        let file = std::fs::File::create(&log)?;
        let child = command
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .context("starting egov ingest")?;
        let mut process = Self {
            settings,
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        process.wait_ready().await?;
        Ok(process)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("egov ingest exited with {status}: {}", self.log_text());
            }
            if let Ok(response) = http.get(format!("{}/readyz", self.url)).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("egov ingest not ready after 60 s: {}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The status and the body of `POST /v1/events` with `token`.
    async fn post(&self, token: &str, body: &Value) -> anyhow::Result<(u16, String)> {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/events", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    async fn metrics(&self) -> anyhow::Result<String> {
        Ok(reqwest::get(format!("{}/metrics", self.url))
            .await?
            .text()
            .await?)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for IngestProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        egov_tests::remove_resources_blocking(&self.settings);
    }
}

fn dossier(id: &str, unit: &str) -> Value {
    json!({"event_id": id, "event_type": "dossier.resolved", "occurred_at": "2021-05-07T10:00:00+07:00",
           "unit_code": unit, "payload": {"dossier_id": "HS-1"}})
}

/// The token and the configuration entry `egov token new` printed.
fn new_token(system: &str, units: &str) -> anyhow::Result<(String, String)> {
    let output = finish(egov(
        &["token", "new", "--system", system, "--units", units],
        &[],
    ))?;
    anyhow::ensure!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let token = stdout.lines().next().unwrap_or_default().to_owned();
    let entry: String = stdout
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    Ok((token, entry))
}

async fn database_exists(settings: &egov_runtime::config::Settings) -> anyhow::Result<bool> {
    let mut server = settings.clone();
    server.clickhouse.database = "default".into();
    let sql = format!(
        "SELECT count() FROM system.databases WHERE name = '{}'",
        settings.clickhouse.database
    );
    Ok(egov_tests::clickhouse_query(&server, &sql).await?.trim() == "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_list_run_and_ingest_refuse_to_start() -> anyhow::Result<()> {
    let settings = egov_tests::unique_settings("notokens")?;
    let dir = TempDir::new("notokens")?;
    // No file, a file without tokens, the typo `[[ingest.token]]`.
    let typo = dir.file(
        "typo.toml",
        &format!(
            "[[ingest.token]]\ntoken_sha256 = \"{}\"\nsystem = \"onestop\"\nunits = [\"*\"]\n",
            "ab".repeat(32)
        ),
    )?;
    let empty = dir.file("empty.toml", "[ingest]\nmax_events = 100\n")?;
    let env = [
        (
            "EGOV__INGEST__LISTEN",
            format!("127.0.0.1:{}", free_port()?),
        ),
        (
            "EGOV__CLICKHOUSE__DATABASE",
            settings.clickhouse.database.clone(),
        ),
        ("EGOV__KAFKA__RAW_TOPIC", settings.kafka.raw_topic.clone()),
    ];
    for command in ["run", "ingest"] {
        let no_file = finish(egov(&[command], &env))?;
        let no_tokens = finish(egov(&["--config", path(&empty)?, command], &env))?;
        for output in [&no_file, &no_tokens] {
            let stderr = text(&output.stderr);
            assert!(!output.status.success(), "egov {command} started: {stderr}");
            assert!(
                stderr.contains("no ingest tokens are configured"),
                "{stderr}"
            );
            assert!(stderr.contains("egov token new"), "{stderr}");
            assert!(stderr.contains("EGOV__INGEST__DEV_TOKENS=true"), "{stderr}");
            assert!(!stderr.contains("local-"), "{stderr}");
        }
        let typo = finish(egov(&["--config", path(&typo)?, command], &env))?;
        let stderr = text(&typo.stderr);
        assert!(!typo.status.success(), "egov {command} started: {stderr}");
        assert!(stderr.contains("unknown key `ingest.token`"), "{stderr}");
        assert!(stderr.contains("typo.toml"), "{stderr}");
    }
    // Refused before anything started: not even the database was created.
    assert!(!database_exists(&settings).await?);
    Ok(())
}

fn path(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("a temporary path that is not UTF-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_token_is_accepted_and_never_shown() -> anyhow::Result<()> {
    let (token, entry) = new_token("onestop", "244,243")?;
    assert!(token.len() >= 32, "{token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    assert!(!entry.contains(&token), "{entry}");
    assert!(
        entry.contains(&egov_ingest::auth::sha256_hex(&token)),
        "{entry}"
    );
    assert!(entry.contains("units = [\"244\", \"243\"]"), "{entry}");
    let (other, _) = new_token("onestop", "244")?;
    assert_ne!(token, other);

    let dir = TempDir::new("newtoken")?;
    let config = dir.file("egov.toml", &entry)?;
    let check = finish(egov(&["--config", path(&config)?, "config", "check"], &[]))?;
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("configuration ok"));

    let ingest =
        IngestProcess::start("newtoken", &["--config", path(&config)?, "ingest"], &[]).await?;
    let (status, answer) = ingest.post(&token, &dossier("tok-1", "244")).await?;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer)?;
    assert_eq!(answer["accepted"], 1, "{answer}");
    // Outside its units: refused per event.
    let (status, answer) = ingest.post(&token, &dossier("tok-2", "08707")).await?;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer)?;
    assert_eq!(answer["errors"][0]["code"], "forbidden", "{answer}");
    // Neither the development tokens (not asked for) nor the digest itself are tokens.
    for wrong in [
        "local-onestop".to_owned(),
        "local-documents".to_owned(),
        egov_ingest::auth::sha256_hex(&token),
        format!("{token}x"),
    ] {
        let (status, answer) = ingest.post(&wrong, &dossier("tok-3", "244")).await?;
        assert_eq!(status, 401, "{answer}");
        assert!(!answer.contains(&wrong), "{answer}");
    }
    let metrics = ingest.metrics().await?;
    let log = ingest.log_text();
    assert!(log.contains("events ingested"), "{log}");
    for shown in [&metrics, &log] {
        assert!(!shown.contains(&token));
        assert!(!shown.contains("local-onestop"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_tokens_only_when_asked_for_and_never_printed() -> anyhow::Result<()> {
    let ingest = IngestProcess::start(
        "devtokens",
        &["ingest"],
        &[("EGOV__INGEST__DEV_TOKENS", "true".to_owned())],
    )
    .await?;
    let (status, answer) = ingest
        .post("local-onestop", &dossier("dev-1", "244"))
        .await?;
    assert_eq!(status, 200, "{answer}");
    let log = ingest.log_text();
    assert!(log.contains("development tokens are active"), "{log}");
    let metrics = ingest.metrics().await?;
    for shown in [&log, &metrics] {
        assert!(!shown.contains("local-onestop"), "{shown}");
        assert!(!shown.contains("local-documents"), "{shown}");
    }
    Ok(())
}

#[test]
fn config_check_names_unknown_keys_and_bad_tokens() -> anyhow::Result<()> {
    let dir = TempDir::new("check")?;
    let hash = "cd".repeat(32);
    let entry = |hash: &str| {
        format!("[[ingest.tokens]]\ntoken_sha256 = \"{hash}\"\nsystem = \"documents\"\nunits = [\"*\"]\n")
    };
    let good = dir.file("good.toml", &entry(&hash))?;
    let check = |file: &Path, env: &[(&str, String)]| -> anyhow::Result<(bool, String)> {
        let output = finish(egov(&["--config", path(file)?, "config", "check"], env))?;
        Ok((
            output.status.success(),
            text(&output.stdout) + &text(&output.stderr),
        ))
    };
    let (ok, out) = check(&good, &[])?;
    assert!(ok, "{out}");
    let cases = [
        ("[kafka]\nbroker = \"x:9092\"\n".to_owned() + &entry(&hash), "unknown key `kafka.broker`"),
        ("[[ingest.tokens]]\ntoken = \"a-token-in-the-clear\"\nsystem = \"documents\"\nunits = [\"*\"]\n".to_owned(), "unknown key `ingest.tokens.0.token`"),
        (entry("0123"), "64 hexadecimal digits"),
        (entry(&hash) + &entry(&hash), "are the same token"),
        ("[ingest]\nmax_events = 5\n".to_owned(), "no ingest tokens are configured"),
    ];
    for (index, (config, expected)) in cases.iter().enumerate() {
        let file = dir.file(&format!("bad{index}.toml"), config)?;
        let (ok, out) = check(&file, &[])?;
        assert!(!ok, "accepted: {config}");
        assert!(out.contains(expected), "{expected}: {out}");
        assert!(
            out.contains(&format!("bad{index}.toml")) || index >= 2,
            "{out}"
        );
        assert!(!out.contains("a-token-in-the-clear"), "{out}");
    }
    // In the environment: the variable is named (and its value, maybe a token, is not shown).
    for (name, value) in [
        ("EGOV__INGEST__TOKEN", "a-token-in-the-clear"),
        ("EGOV__INGEST__TOKENS_SHA256", "x"),
        ("EGOV__KAFKA__BROKER", "x:9092"),
    ] {
        let (ok, out) = check(&good, &[(name, value.to_owned())])?;
        assert!(!ok, "accepted {name}");
        assert!(
            out.contains(&format!("environment variable {name}")),
            "{out}"
        );
        assert!(out.contains(&format!("unknown key `{name}`")), "{out}");
        assert!(!out.contains("a-token-in-the-clear"), "{out}");
    }
    Ok(())
}
