//! Secured servers of one test, started from scratch in a temp dir: a CA and a
//! server certificate for `localhost` / `127.0.0.1` made with the `openssl`
//! CLI, a Kafka (KRaft, single node) whose client listeners are SASL_SSL
//! with SCRAM-SHA-256 and SSL (TLS only), and a ClickHouse whose only HTTP port is HTTPS, with a
//! user that has a password. Ports are free ones; the servers are killed and
//! the temp dir removed on drop. Nothing is skipped: a missing `java`,
//! `openssl`, `clickhouse-server` or Kafka jars is an error that says so.
//! [`spawn_clickhouse`] also starts the other ClickHouse servers of a test
//! (the replicas of `tests/replicas.rs`).

use anyhow::{bail, Context};
use egov_runtime::config::{
    ClickHouseConfig, KafkaConfig, SaslMechanism, Secret, SecurityProtocol,
};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The SCRAM user of the Kafka and the ClickHouse user.
pub const USER: &str = "egov";
/// How long a server may take to answer after its start.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Any valid KRaft cluster id will do: every test formats its own data dir.
const CLUSTER_ID: &str = "MkU3OEVBNTcwNTJENDM2Qk";

/// A temp dir removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> anyhow::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("egov-{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    /// Writes `text` to the file `name` in the dir; its path.
    pub fn file(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let path = self.0.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed on drop.
pub struct Server {
    name: &'static str,
    child: Child,
    logs: Vec<PathBuf>,
}

impl Server {
    pub fn spawn(
        name: &'static str,
        mut command: Command,
        dir: &Path,
        logs: Vec<PathBuf>,
    ) -> anyhow::Result<Self> {
        let stdout = std::fs::File::create(dir.join(format!("{name}.stdout.log")))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout.try_clone()?)
            .stderr(stdout)
            .spawn()
            .with_context(|| format!("cannot start {name}: {command:?}"))?;
        let mut logs = logs;
        logs.push(dir.join(format!("{name}.stdout.log")));
        Ok(Self { name, child, logs })
    }

    /// Fails when the process has exited, with the end of its logs.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}):\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let mut out = String::new();
        for log in &self.logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(25);
            out.push_str(&format!("--- {} ---\n", log.display()));
            out.push_str(&lines[start..].join("\n"));
            out.push('\n');
        }
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA, a Kafka with SASL_SSL and a ClickHouse with HTTPS, all of this test.
pub struct SecureServers {
    /// The CA that signed both servers' certificates, and the server
    /// certificate, also for other servers of the test (e.g. ingest).
    pub certificates: Certificates,
    /// What a client of these servers needs, passwords included (the
    /// SASL_SSL listener).
    pub kafka: KafkaConfig,
    /// The broker's SSL listener (TLS, no SASL).
    pub kafka_ssl_brokers: String,
    pub clickhouse: ClickHouseConfig,
    servers: Vec<Server>,
    // Last: removed after the servers are gone.
    dir: TempDir,
}

impl SecureServers {
    /// Starts both servers and waits until each answers a client that has
    /// the CA and the passwords.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = TempDir::new("tls")?;
        let path = dir.0.clone();
        require_tools()?;
        let certificates = Certificates::make()?;
        let (ca_file, cert_file, key_file) = (
            &certificates.ca_file,
            &certificates.cert_file,
            &certificates.key_file,
        );
        let kafka_password = format!("kafka-{}", uuid::Uuid::new_v4().simple());
        let clickhouse_password = format!("ch-{}", uuid::Uuid::new_v4().simple());
        let kafka_port = free_port()?;
        let kafka_ssl_port = free_port()?;
        let https_port = free_port()?;
        let servers = vec![
            start_kafka(
                &path,
                [kafka_port, kafka_ssl_port],
                cert_file,
                key_file,
                ca_file,
                &kafka_password,
            )?,
            start_clickhouse(&path, https_port, cert_file, key_file, &clickhouse_password)?,
        ];
        let mut this = Self {
            kafka: KafkaConfig {
                brokers: format!("127.0.0.1:{kafka_port}"),
                security_protocol: SecurityProtocol::SaslSsl,
                sasl_mechanism: SaslMechanism::ScramSha256,
                sasl_username: USER.into(),
                sasl_password: Secret::new(kafka_password),
                ssl_ca_file: Some(ca_file.to_owned()),
                ..KafkaConfig::default()
            },
            kafka_ssl_brokers: format!("127.0.0.1:{kafka_ssl_port}"),
            clickhouse: ClickHouseConfig {
                url: format!("https://localhost:{https_port}"),
                user: USER.into(),
                password: Secret::new(clickhouse_password),
                ca_file: Some(ca_file.to_owned()),
                ..ClickHouseConfig::default()
            },
            certificates,
            servers,
            dir,
        };
        this.wait_until_answering().await?;
        Ok(this)
    }

    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    async fn wait_until_answering(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        let (mut kafka_ok, mut clickhouse_ok) = (false, false);
        let http = egov_runtime::clickhouse::http(&self.clickhouse, Duration::from_secs(2))?;
        loop {
            for server in &mut self.servers {
                server.ensure_running()?;
            }
            if !clickhouse_ok {
                let answer = http
                    .get(&self.clickhouse.url)
                    .query(&[("query", "SELECT 1")])
                    .basic_auth(USER, Some(self.clickhouse.password.expose()))
                    .send()
                    .await;
                if let Ok(response) = answer {
                    clickhouse_ok = response.text().await.is_ok_and(|t| t.trim() == "1");
                }
            }
            if !kafka_ok {
                kafka_ok = metadata(&self.kafka, Duration::from_secs(2)).await.is_ok();
            }
            if kafka_ok && clickhouse_ok {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                let logs: Vec<String> = self.servers.iter().map(Server::log_tail).collect();
                bail!(
                    "after {START_TIMEOUT:?}: kafka answering {kafka_ok}, clickhouse answering {clickhouse_ok}\n{}",
                    logs.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Asks the brokers for metadata with `config`; how many brokers answered.
pub async fn metadata(config: &KafkaConfig, timeout: Duration) -> anyhow::Result<usize> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = egov_runtime::kafka::client_config(config).create()?;
    let brokers = tokio::task::spawn_blocking(move || {
        client
            .fetch_metadata(None, timeout)
            .map(|m| m.brokers().len())
    })
    .await??;
    Ok(brokers)
}

fn require_tools() -> anyhow::Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for tool in ["java", "openssl", "clickhouse-server"] {
        if !std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()) {
            bail!(
                "`{tool}` is not on PATH: the TLS test needs it (deploy/local/up.sh installs it)"
            );
        }
    }
    Ok(())
}

/// The Kafka jars: `$EGOV_TEST_KAFKA_LIBS`, else `<repo>/.local/kafka/libs`
/// (where `deploy/local/up.sh` puts them).
fn kafka_libs() -> anyhow::Result<PathBuf> {
    let libs = match std::env::var_os("EGOV_TEST_KAFKA_LIBS") {
        Some(dir) => PathBuf::from(dir),
        // Where deploy/local keeps Kafka: EGOV_LOCAL_DIR, as lib.sh reads it.
        None => std::env::var_os("EGOV_LOCAL_DIR").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/kafka/libs"),
            |local| PathBuf::from(local).join("kafka/libs"),
        ),
    };
    let has_jars = std::fs::read_dir(&libs)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("kafka_2.13-"))
        })
        .unwrap_or(false);
    if !has_jars {
        bail!(
            "no Kafka jars in {}: run deploy/local/up.sh, or set EGOV_TEST_KAFKA_LIBS",
            libs.display()
        );
    }
    Ok(libs)
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A CA, and a server key and certificate it signed for `localhost` and
/// `127.0.0.1`, made with the `openssl` CLI in a temp dir removed on drop.
pub struct Certificates {
    /// The CA's certificate (PEM): what a client trusts.
    pub ca_file: PathBuf,
    /// The server's certificate (PEM), signed by the CA.
    pub cert_file: PathBuf,
    /// The server's private key (PEM, PKCS#8).
    pub key_file: PathBuf,
    dir: TempDir,
}

impl Certificates {
    pub fn make() -> anyhow::Result<Self> {
        let dir = TempDir::new("certs")?;
        let (ca_file, cert_file, key_file) = make_certificates(&dir.0)?;
        Ok(Self {
            ca_file,
            cert_file,
            key_file,
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir.0
    }
}

fn make_certificates(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf, PathBuf)> {
    let (ca_key, ca) = (dir.join("ca.key"), dir.join("ca.pem"));
    let (key, csr, cert) = (
        dir.join("server.key"),
        dir.join("server.csr"),
        dir.join("server.pem"),
    );
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )?;
    let openssl = |args: &[&dyn AsRef<std::ffi::OsStr>]| {
        let mut command = Command::new("openssl");
        command.current_dir(dir);
        for arg in args {
            command.arg(arg);
        }
        run(&mut command)
    };
    openssl(&[
        &"req",
        &"-x509",
        &"-newkey",
        &"rsa:2048",
        &"-nodes",
        &"-days",
        &"2",
        &"-subj",
        &"/CN=egov test CA",
        &"-keyout",
        &ca_key,
        &"-out",
        &ca,
    ])?;
    openssl(&[
        &"req",
        &"-newkey",
        &"rsa:2048",
        &"-nodes",
        &"-subj",
        &"/CN=localhost",
        &"-keyout",
        &key,
        &"-out",
        &csr,
    ])?;
    openssl(&[
        &"x509",
        &"-req",
        &"-days",
        &"2",
        &"-in",
        &csr,
        &"-CA",
        &ca,
        &"-CAkey",
        &ca_key,
        &"-CAcreateserial",
        &"-extfile",
        &ext,
        &"-out",
        &cert,
    ])?;
    Ok((ca, cert, key))
}

/// `ports`: the SASL_SSL listener's, then the SSL listener's.
fn start_kafka(
    dir: &Path,
    [port, ssl_port]: [u16; 2],
    cert: &Path,
    key: &Path,
    ca: &Path,
    password: &str,
) -> anyhow::Result<Server> {
    let libs = kafka_libs()?;
    let classpath = format!("{}/*", libs.display());
    let kafka_dir = dir.join("kafka");
    std::fs::create_dir_all(kafka_dir.join("data"))?;
    // PEM key store: the private key, then the certificate.
    let keystore = kafka_dir.join("keystore.pem");
    std::fs::write(
        &keystore,
        [std::fs::read(key)?, std::fs::read(cert)?].concat(),
    )?;
    let controller_port = free_port()?;
    let jaas = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{USER}\" password=\"{password}\";"
    );
    let properties = format!(
        "process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}\n\
         listeners=SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port},CONTROLLER://127.0.0.1:{controller_port}\n\
         advertised.listeners=SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port}\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=SASL_SSL\n\
         listener.security.protocol.map=SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT\n\
         sasl.enabled.mechanisms=SCRAM-SHA-256\n\
         sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256\n\
         listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={jaas}\n\
         ssl.keystore.type=PEM\n\
         ssl.keystore.location={keystore}\n\
         ssl.truststore.type=PEM\n\
         ssl.truststore.location={ca}\n\
         log.dirs={data}\n\
         num.partitions=1\n\
         offsets.topic.replication.factor=1\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         share.coordinator.state.topic.replication.factor=1\n\
         share.coordinator.state.topic.min.isr=1\n\
         group.initial.rebalance.delay.ms=0\n",
        keystore = keystore.display(),
        ca = ca.display(),
        data = kafka_dir.join("data").display(),
    );
    let config = kafka_dir.join("server.properties");
    std::fs::write(&config, properties)?;
    let server_log = kafka_dir.join("server.log");
    let log4j = kafka_dir.join("log4j2.properties");
    std::fs::write(
        &log4j,
        format!(
            "status = warn\n\
             appender.file.type = File\nappender.file.name = file\n\
             appender.file.fileName = {}\n\
             appender.file.layout.type = PatternLayout\n\
             appender.file.layout.pattern = [%d] %p %m (%c)%n\n\
             rootLogger.level = INFO\nrootLogger.appenderRef.file.ref = file\n",
            server_log.display()
        ),
    )?;
    let java = |main: &str| {
        let mut command = Command::new("java");
        command
            .current_dir(&kafka_dir)
            .args(["-Xmx384m", "-Xms128m", "-XX:+UseSerialGC"])
            .arg("-Djava.awt.headless=true")
            .arg(format!("-Dlog4j2.configurationFile={}", log4j.display()))
            .arg("-cp")
            .arg(&classpath)
            .arg(main);
        command
    };
    // SCRAM credentials are written at format time: the broker knows its
    // user from its first start.
    run(java("kafka.tools.StorageTool")
        .args(["format", "--standalone", "-t", CLUSTER_ID, "-c"])
        .arg(&config)
        .arg("--add-scram")
        .arg(format!("SCRAM-SHA-256=[name={USER},password={password}]")))?;
    let mut command = java("kafka.Kafka");
    command.arg(&config);
    Server::spawn("kafka", command, &kafka_dir, vec![server_log])
}

fn start_clickhouse(
    dir: &Path,
    https_port: u16,
    cert: &Path,
    key: &Path,
    password: &str,
) -> anyhow::Result<Server> {
    // Only the HTTPS port: no plain HTTP, no native port.
    let ports = format!(
        "    <https_port>{https_port}</https_port>
    <openSSL>
        <server>
            <certificateFile>{cert}</certificateFile>
            <privateKeyFile>{key}</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>",
        cert = cert.display(),
        key = key.display(),
    );
    spawn_clickhouse(&dir.join("clickhouse"), &ports, USER, password)
}

/// A ClickHouse server of one test, its configuration, data and logs in
/// `dir` (errors in `error.log`), listening on 127.0.0.1 only: `ports` are
/// the `config.xml` elements particular to it (its ports, TLS, ZooKeeper),
/// `user` with `password` its one user.
pub fn spawn_clickhouse(
    dir: &Path,
    ports: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<Server> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let error_log = dir.join("error.log");
    let config = format!(
        r#"<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{log}</log>
        <errorlog>{error_log}</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
{ports}
    <path>{data}/</path>
    <tmp_path>{data}/tmp/</tmp_path>
    <user_files_path>{data}/user_files/</user_files_path>
    <format_schema_path>{data}/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_table_size_to_drop>0</max_table_size_to_drop>
</yandex>
"#,
        log = dir.join("server.log").display(),
        error_log = error_log.display(),
        data = data.display(),
    );
    let users = format!(
        r#"<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
        </default>
    </profiles>
    <users>
        <{user}>
            <password>{password}</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </{user}>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
"#
    );
    let config_file = dir.join("config.xml");
    std::fs::write(&config_file, config)?;
    std::fs::write(dir.join("users.xml"), users)?;
    let mut command = Command::new("clickhouse-server");
    command
        .current_dir(dir)
        .arg(format!("--config-file={}", config_file.display()));
    Server::spawn("clickhouse", command, dir, vec![error_log])
}
