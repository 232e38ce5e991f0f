//! The `egov` command. Thin wiring: load configuration, set up telemetry,
//! bind, install signal handlers, and call the services' `run` functions.

mod malloc;
mod scenario;
mod scorecard;

use anyhow::Context;
use clap::{Parser, Subcommand};
use egov_runtime::config::Settings;
use egov_runtime::ops::{Check, Process, Readiness};
use egov_runtime::shutdown::{self, Shutdown, ShutdownTrigger};
use egov_runtime::stall::Stage;
use egov_runtime::telemetry;
use egov_tools::status;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tracing::info;

#[derive(Debug, Parser)]
#[command(
    name = "egov",
    version,
    about = "Event pipeline of the Vĩnh Phúc digital-transformation office"
)]
struct Cli {
    /// A TOML configuration file, read after the defaults and before `EGOV__*` variables.
    #[arg(long, global = true, env = "EGOV_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest, transform and load in one process (applies migrations first).
    Run,
    /// The HTTP ingest service alone.
    Ingest,
    /// The transform service alone.
    Transform,
    /// The load service alone.
    Load,
    /// Creates or upgrades the ClickHouse schema and loads the unit catalogue.
    Migrate,
    /// Prints the figures of contract section 5 for a period, from ClickHouse.
    Report(ReportArgs),
    /// Every unit's own figures for a period, silent systems, flagged rates and
    /// rank within its level (table, JSON, CSV or XLSX).
    Scorecard(scorecard::ScorecardArgs),
    /// The dead-letter topic: list what is there, or replay each letter to the topic it came from.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Events accepted at ingest against rows in ClickHouse, per system and day;
    /// exits non-zero when any are missing.
    Reconcile(ReconcileArgs),
    /// Generates events and pushes them through the HTTP API.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCommand),
    /// One screen for an operator: services up and ready, throughput, lag, dead letters.
    Status(status::StatusArgs),
    /// The analysts' web pages (overview, scorecard, unit, pipeline) and their JSON API,
    /// read-only from ClickHouse, on `dashboard.listen`.
    Dashboard,
    /// Ingest tokens: make a new one.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The configuration: check it without starting anything.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Prints a fresh random token and its `[[ingest.tokens]]` entry (which holds only its SHA-256).
    New {
        /// The source system the token belongs to: `documents` or `onestop`.
        #[arg(long)]
        system: egov_model::System,
        /// The unit codes it may report for, comma-separated, or `*` for every unit.
        #[arg(long, value_delimiter = ',', required = true)]
        units: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Loads the configuration (`--config FILE`, `EGOV__*`) as `egov run` does and reports
    /// what is wrong with it: unknown keys, malformed values or tokens, no tokens.
    Check,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// First local date of the period (YYYY-MM-DD), included.
    #[arg(long)]
    from: chrono::NaiveDate,
    /// Last local date of the period (YYYY-MM-DD), included.
    #[arg(long)]
    to: chrono::NaiveDate,
    /// Only this unit and the units under it (a code of the unit catalogue).
    #[arg(long)]
    unit: Option<String>,
    /// Figures per unit instead of per level.
    #[arg(long)]
    by_unit: bool,
    /// `json` for contract section 7's JSON; tables otherwise.
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// Lists the dead letters with their reason and origin.
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
    },
    /// Sends every dead letter not replayed before back to the topic it came from.
    Replay,
}

#[derive(Debug, clap::Args)]
struct ReconcileArgs {
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
    /// Keep checking for up to this many seconds while events are missing
    /// (the pipeline may still be draining).
    #[arg(long, default_value_t = 0)]
    wait_secs: u64,
    /// Show every day, not only those that do not add up.
    #[arg(long)]
    all: bool,
    /// Also write the result in Prometheus's text format to this file (for
    /// node_exporter's textfile collector; replaced at once, see docs/operations.md).
    #[arg(long, value_name = "FILE")]
    prometheus_textfile: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Table,
    Json,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Token(TokenCommand::New { system, units }) = &cli.command {
        // Needs no configuration but the catalogue's path, read leniently.
        return new_token(cli.config.as_deref(), *system, units);
    }
    let settings = Settings::load(cli.config.as_deref())?;
    if let Command::Config(ConfigCommand::Check) = cli.command {
        return check_config(cli.config.as_deref(), &settings);
    }
    if matches!(cli.command, Command::Run | Command::Ingest) {
        // Before anything starts: no tokens, no service.
        egov_ingest::auth::Tokens::from_config(&settings.ingest)?;
    }
    telemetry::init_logging(&settings.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(cli.command, settings))
}

async fn dispatch(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Run => run_all(settings).await,
        Command::Ingest => {
            let metrics = telemetry::init_metrics()?;
            let listener = bind(&settings.ingest.listen).await?;
            let (trigger, shutdown) = shutdown::channel();
            tokio::spawn(stop_on_signal(trigger));
            egov_ingest::run(settings.ingest_config(), listener, shutdown, Some(metrics)).await?;
            Ok(())
        }
        Command::Transform => {
            let (trigger, shutdown) = shutdown::channel();
            let readiness = Readiness::builder(&settings.ops)
                .process(Process::Transform)
                .kafka(&settings.kafka)
                .catalogue()
                .stage(Stage::Transform)
                .build()?;
            // Transform loads this catalogue as it starts; one that cannot be loaded stops it.
            let catalogue = settings.catalogue.load();
            readiness.set(
                Check::Catalogue,
                catalogue.map(drop).map_err(|e| e.to_string()),
            );
            let ops = serve_ops(
                &settings.transform.listen,
                readiness.clone(),
                shutdown.clone(),
            )
            .await?;
            tokio::spawn(stop_on_signal(trigger));
            egov_transform::run_with(settings.transform_config(), shutdown, readiness).await?;
            ops.stop().await
        }
        Command::Load => {
            let (trigger, shutdown) = shutdown::channel();
            let readiness = Readiness::builder(&settings.ops)
                .process(Process::Load)
                .kafka(&settings.kafka)
                .clickhouse(&settings.clickhouse)
                .stage(Stage::Load)
                .build()?;
            let ops = serve_ops(&settings.load.listen, readiness.clone(), shutdown.clone()).await?;
            tokio::spawn(stop_on_signal(trigger));
            egov_load::run_with(settings.load_config(), shutdown, readiness).await?;
            ops.stop().await
        }
        Command::Migrate => migrate(&settings).await,
        Command::Report(args) => report(&settings, args).await,
        Command::Scorecard(args) => scorecard::run(&settings, args).await,
        Command::Dlq(command) => dlq(&settings, command).await,
        Command::Reconcile(args) => reconcile(&settings, args).await,
        Command::Scenario(command) => scenario::run(command).await,
        Command::Status(args) => Ok(status::run(&settings, args).await?),
        Command::Dashboard => {
            let listener = bind(&settings.dashboard.listen).await?;
            let (trigger, shutdown) = shutdown::channel();
            tokio::spawn(stop_on_signal(trigger));
            let config = egov_dashboard::DashboardConfig::from(&settings);
            egov_dashboard::run(config, listener, shutdown).await?;
            Ok(())
        }
        Command::Token(_) | Command::Config(_) => Ok(()),
    }
}

/// `egov token new`: a token to give to the sender, and its configuration entry.
fn new_token(
    config: Option<&std::path::Path>,
    system: egov_model::System,
    units: &[String],
) -> anyhow::Result<()> {
    let units: Vec<String> = units.iter().map(|u| u.trim().to_owned()).collect();
    if units.iter().any(|u| u != "*") {
        let settings = Settings::load(config)?;
        let catalogue = settings.catalogue.load()?;
        if let Some(unknown) = units
            .iter()
            .find(|u| *u != "*" && catalogue.get(u).is_none())
        {
            anyhow::bail!("unit `{unknown}` is not in the unit catalogue");
        }
    }
    let token = egov_ingest::auth::new_token();
    println!("{token}");
    println!();
    println!(
        "# Give the token above to the {system} system (it is shown only now); put this entry"
    );
    println!("# in the configuration file of egov run / egov ingest (it holds only the token's SHA-256):");
    print!(
        "{}",
        egov_ingest::auth::config_entry(&token, system, &units)
    );
    Ok(())
}

/// `egov config check`: everything `egov run` checks before it starts.
fn check_config(file: Option<&std::path::Path>, settings: &Settings) -> anyhow::Result<()> {
    let tokens = egov_ingest::auth::Tokens::from_config(&settings.ingest)?;
    settings.catalogue.load()?;
    let origin = file.map_or("defaults and EGOV__* variables".to_owned(), |f| {
        format!("{} and EGOV__* variables", f.display())
    });
    println!(
        "configuration ok ({origin}): {} ingest tokens configured{}",
        settings.ingest.tokens.len(),
        if tokens.development() {
            ", and the development tokens (ingest.dev_tokens = true: never in production)"
        } else {
            ""
        }
    );
    Ok(())
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let catalogue = settings.catalogue.load()?;
    egov_tools::migrate::migrate(&settings.clickhouse, &catalogue).await?;
    // The dashboard's read-only user, where the server has SQL users (it logs what it did).
    egov_tools::read_only_user::ensure(&settings.clickhouse, &settings.dashboard).await?;
    Ok(())
}

async fn report(settings: &Settings, args: ReportArgs) -> anyhow::Result<()> {
    let request = egov_analytics::ReportRequest {
        from: args.from,
        to: args.to,
        unit: args.unit,
    };
    let text = if args.by_unit {
        let units = egov_analytics::report_by_unit(&settings.clickhouse, &request).await?;
        match args.format {
            ReportFormat::Json => serde_json::to_string_pretty(&units)?,
            ReportFormat::Table => egov_analytics::render::unit_tables(&units),
        }
    } else {
        let report = egov_analytics::report(&settings.clickhouse, &request).await?;
        match args.format {
            ReportFormat::Json => serde_json::to_string_pretty(&report)?,
            ReportFormat::Table => egov_analytics::render::report_tables(&report),
        }
    };
    println!("{text}");
    Ok(())
}

async fn dlq(settings: &Settings, command: DlqCommand) -> anyhow::Result<()> {
    use egov_tools::dlq::{self, replay};
    match command {
        DlqCommand::List { format } => {
            let letters = replay::list(&settings.kafka).await?;
            match format {
                ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&letters)?),
                ReportFormat::Table => {
                    print!("{}", dlq::render_table(&settings.kafka.dlq_topic, &letters))
                }
            }
        }
        DlqCommand::Replay => {
            let stats = replay::replay(&settings.kafka).await?;
            println!(
                "replayed {} dead letters: {} to {}, {} to {}; {} not replayable (truncated, or from another topic)",
                stats.replayed(),
                stats.to_raw,
                settings.kafka.raw_topic,
                stats.to_curated,
                settings.kafka.curated_topic,
                stats.skipped
            );
        }
    }
    Ok(())
}

async fn reconcile(settings: &Settings, args: ReconcileArgs) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.wait_secs);
    let result = loop {
        let result =
            egov_tools::reconcile::reconcile(&settings.kafka, &settings.clickhouse).await?;
        if result.missing() == 0 || std::time::Instant::now() >= deadline {
            break result;
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    };
    if let Some(file) = &args.prometheus_textfile {
        egov_tools::reconcile::write_replacing(
            file,
            &result.prometheus_text(chrono::Utc::now().timestamp()),
        )
        .with_context(|| format!("writing {}", file.display()))?;
    }
    match args.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&result)?),
        ReportFormat::Table => print!("{}", result.table(args.all)),
    }
    if result.missing() > 0 {
        anyhow::bail!(
            "{} accepted events are neither in ClickHouse nor in the dead-letter topic",
            result.missing()
        );
    }
    Ok(())
}

async fn run_all(mut settings: Settings) -> anyhow::Result<()> {
    if settings.kafka.seal_key.is_empty() {
        // One process seals and verifies: a key of its own, never written anywhere.
        settings.kafka.seal_key =
            egov_runtime::config::Secret::new(egov_runtime::seal::random_key());
    }
    let metrics = telemetry::init_metrics()?;
    migrate(&settings).await?;
    let listener = bind(&settings.ingest.listen).await?;
    let (trigger, shutdown) = shutdown::channel();
    let mut signal = tokio::spawn(wait_for_signal());
    // One process: /readyz on the ingest port checks all that its services
    // need, a stall of transform or load included (named in the reason).
    let readiness = Readiness::pipeline(&settings)?;
    let checks = readiness.spawn(shutdown.clone());
    let mut services = tokio::task::JoinSet::new();
    services.spawn({
        let (config, shutdown) = (settings.ingest_config(), shutdown.clone());
        let readiness = readiness.clone();
        async move {
            let result =
                egov_ingest::run_with(config, listener, shutdown, Some(metrics), readiness).await;
            ("ingest", result.map_err(anyhow::Error::from))
        }
    });
    services.spawn({
        let (config, shutdown) = (settings.transform_config(), shutdown.clone());
        let readiness = readiness.clone();
        async move {
            (
                "transform",
                egov_transform::run_with(config, shutdown, readiness)
                    .await
                    .map_err(anyhow::Error::from),
            )
        }
    });
    services.spawn({
        let config = settings.load_config();
        async move {
            (
                "load",
                egov_load::run_with(config, shutdown, readiness)
                    .await
                    .map_err(anyhow::Error::from),
            )
        }
    });
    // One process, one fate: if a service ends, the others stop too and the
    // process exits, so that a supervisor restarts it whole.
    let mut failure: Option<anyhow::Error> = None;
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = &mut signal, if !stopping => {
                stopping = true;
                trigger.trigger();
            }
            joined = services.join_next() => {
                let Some(joined) = joined else { break };
                let (service, result) = joined.context("a service panicked")?;
                match result {
                    Ok(()) if stopping => {}
                    Ok(()) => {
                        tracing::error!(service, "service ended on its own; stopping the pipeline");
                        failure.get_or_insert(anyhow::anyhow!("{service} ended on its own"));
                    }
                    Err(error) => {
                        tracing::error!(service, error = format!("{error:#}"), "service failed; stopping the pipeline");
                        failure.get_or_insert(error.context(service));
                    }
                }
                if !stopping {
                    stopping = true;
                    trigger.trigger();
                }
            }
        }
    }
    checks.abort();
    if let Some(error) = failure {
        return Err(error);
    }
    info!("pipeline stopped");
    Ok(())
}

async fn bind(address: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))
}

/// `/healthz`, `/readyz` and `/metrics` of a consumer service on its own port.
/// `/readyz` answers 503 from the moment `shutdown` comes; the server itself
/// stays up until [`OpsServer::stop`], once the service has finished.
async fn serve_ops(
    address: &str,
    readiness: Readiness,
    shutdown: Shutdown,
) -> anyhow::Result<OpsServer> {
    let metrics = telemetry::init_metrics()?;
    let listener = bind(address).await?;
    info!(address, "health and metrics listening");
    let checks = readiness.spawn(shutdown);
    let router = egov_runtime::ops::router_with(Some(metrics), readiness);
    let (trigger, mut stop) = shutdown::channel();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.wait().await })
            .await
    });
    Ok(OpsServer {
        trigger,
        task,
        checks,
    })
}

struct OpsServer {
    trigger: ShutdownTrigger,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    checks: tokio::task::JoinHandle<()>,
}

impl OpsServer {
    async fn stop(self) -> anyhow::Result<()> {
        self.trigger.trigger();
        self.checks.abort();
        Ok(self.task.await??)
    }
}

/// Starts a graceful stop on SIGINT or SIGTERM.
async fn stop_on_signal(trigger: ShutdownTrigger) {
    wait_for_signal().await;
    trigger.trigger();
}

/// The only place that listens for signals: completes on SIGINT or SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    info!("stop requested; finishing work in flight");
}
