//! Scenario generators: event streams pushed through the HTTP API the way a
//! source system would (see the `egov-scenario` crate): several requests at
//! once, 503 and 429 retried after `Retry-After`, any rejected event an error.

use anyhow::Context;
use clap::{Args, Subcommand};
use egov_model::Catalogue;
use egov_scenario::provinces::{national_catalogue, MAX_PROVINCES};
use egov_scenario::push::{push, PushOptions, PushStats, Target as PushTarget};
use egov_scenario::reference::Reference;
use egov_scenario::report2021::{Report2021, DEFAULT_SEED, WINDOWS};
use egov_scenario::{batches_of_values, random, sample, DEFAULT_BATCH_SIZE};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// A small fixed sample of both systems (the demo's). Its event ids are
    /// fixed, so pushing it again changes no figure.
    Sample(Target),
    /// Vĩnh Phúc's 2021: about 2.4 million events whose figures are those of
    /// the 2021 report (documents to 15/12, one-stop to 14/11 and, at the
    /// Service Center, to 20/11). Deterministic for a seed; ids are fixed, so
    /// pushing it again changes no figure.
    #[command(name = "report-2021")]
    Report2021(Report2021Args),
    /// The unit catalogue of `report-2021 --provinces N` as a units CSV (the
    /// format of `seeds/units.csv`): give it to every service with
    /// `EGOV__CATALOGUE__PATH` (and run `egov migrate`) before pushing.
    Catalogue(CatalogueArgs),
    /// A small random scenario (dossiers and documents around a random
    /// window, with duplicates and shuffles); prints its reference figures.
    Random(RandomArgs),
}

#[derive(Debug, Args)]
pub struct Target {
    /// Base URL of the ingest service.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = "local-documents", env = "EGOV_DOCUMENTS_TOKEN")]
    documents_token: String,
    #[arg(long, default_value = "local-onestop", env = "EGOV_ONESTOP_TOKEN")]
    onestop_token: String,
}

impl Target {
    fn push_target(&self) -> PushTarget {
        PushTarget {
            url: self.url.clone(),
            documents_token: self.documents_token.clone(),
            onestop_token: self.onestop_token.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Events per request.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Compress request bodies with gzip.
    #[arg(long)]
    gzip: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
}

impl PushArgs {
    fn options(&self, total_events: u64) -> PushOptions {
        PushOptions {
            concurrency: self.concurrency,
            progress: !self.no_progress,
            gzip: self.gzip,
            total_events: Some(total_events),
            ..PushOptions::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct Report2021Args {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    push: PushArgs,
    /// Seed of the scenario; the default one is the published scenario.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Send every event in exactly the opposite order.
    #[arg(long)]
    reverse: bool,
    /// Send the stream from this many provinces: province 1 with the
    /// catalogue's own unit codes, provinces 2..=N with copies of them
    /// (`S02-26`, `S02-08707`, ...), each with the 2021 figures. The pipeline
    /// needs their catalogue (`egov scenario catalogue --provinces N`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_PROVINCES)))]
    provinces: u16,
    /// Push the whole stream this many times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Print the reference figures of the report's three windows as JSON (the
    /// shape of `egov report --format json`) and push nothing.
    #[arg(long)]
    print_figures: bool,
    /// Print what the scenario contains (events by type, dossiers by fate,
    /// documents, resends, late deliveries) as JSON and push nothing.
    #[arg(long)]
    print_composition: bool,
}

#[derive(Debug, Args)]
pub struct CatalogueArgs {
    /// Provinces: 1 is `seeds/units.csv` itself.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_PROVINCES)))]
    provinces: u16,
    /// Write it to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RandomArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    push: PushArgs,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// About this many events (duplicates included).
    #[arg(long, default_value_t = 2_000)]
    size: usize,
    /// Print the scenario's window and reference figures, and push nothing.
    #[arg(long)]
    print_figures: bool,
}

pub async fn run(command: ScenarioCommand) -> anyhow::Result<()> {
    match command {
        ScenarioCommand::Sample(target) => run_sample(&target).await,
        ScenarioCommand::Report2021(args) => run_report_2021(args).await,
        ScenarioCommand::Catalogue(args) => write_catalogue(&args),
        ScenarioCommand::Random(args) => run_random(args).await,
    }
}

async fn run_sample(target: &Target) -> anyhow::Result<()> {
    let mut events = sample::sample_documents();
    events.extend(sample::sample_dossiers());
    let options = PushOptions {
        total_events: Some(events.len() as u64),
        ..PushOptions::default()
    };
    let batches = batches_of_values(&events, DEFAULT_BATCH_SIZE);
    let stats = push(&target.push_target(), batches.into_iter(), &options).await?;
    println!(
        "sample pushed: documents system accepted {} events, one-stop system accepted {} events",
        stats.accepted_documents, stats.accepted_onestop
    );
    Ok(())
}

fn summary(stats: &PushStats) -> String {
    format!(
        "pushed {} events ({} accepted: documents {}, one-stop {}) in {:.1} s: {:.0} events/s; {} requests, {} retried",
        stats.events,
        stats.accepted,
        stats.accepted_documents,
        stats.accepted_onestop,
        stats.elapsed.as_secs_f64(),
        stats.events_per_second(),
        stats.requests,
        stats.retries
    )
}

fn write_catalogue(args: &CatalogueArgs) -> anyhow::Result<()> {
    let catalogue = national_catalogue(&Catalogue::embedded()?, args.provinces)?;
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            catalogue.write_csv(&mut out)?;
            out.flush()?;
        }
        None => catalogue.write_csv(std::io::stdout().lock())?,
    }
    Ok(())
}

async fn run_report_2021(args: Report2021Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let (seed, provinces) = (args.seed, args.provinces);
    let scenario =
        tokio::task::spawn_blocking(move || Report2021::generate_provinces(seed, provinces))
            .await?
            .with_context(|| format!("generating the report-2021 scenario of seed {seed}"))?;
    let scenario = Arc::new(scenario);
    let composition = scenario.composition();
    let of_provinces = if provinces > 1 {
        format!(" x {provinces} provinces = {} events", scenario.len())
    } else {
        String::new()
    };
    eprintln!(
        "report-2021 (seed {seed}): {} events ({} resent copies, {} delivered late){of_provinces}, generated in {:.1} s",
        composition.events,
        composition.resent_copies,
        composition.delayed_events,
        started.elapsed().as_secs_f64()
    );
    if args.print_composition {
        println!("{}", serde_json::to_string_pretty(composition)?);
        return Ok(());
    }
    if args.print_figures {
        let for_reference = Arc::clone(&scenario);
        let reference =
            tokio::task::spawn_blocking(move || for_reference.reference(false)).await??;
        let reports: Vec<_> = WINDOWS
            .iter()
            .map(|w| reference.report(w.from, w.to, None))
            .collect();
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    let total = scenario.len() as u64 * u64::from(args.repeat);
    let (batch_size, reverse) = (args.push.batch_size, args.reverse);
    let batches = {
        let scenario = Arc::clone(&scenario);
        (0..args.repeat).flat_map(move |_| scenario.batches(batch_size, reverse))
    };
    let stats = push(
        &args.target.push_target(),
        batches,
        &args.push.options(total),
    )
    .await?;
    println!("{}", summary(&stats));
    Ok(())
}

async fn run_random(args: RandomArgs) -> anyhow::Result<()> {
    let scenario = random::random_scenario_with_window(args.seed, args.size);
    if args.print_figures {
        let mut reference = Reference::new()?;
        for event in &scenario.events {
            reference.add(event)?;
        }
        let (from, to) = random::STANDARD_PERIOD;
        let reports = [
            reference.report(scenario.from, scenario.to, None),
            reference.report(from, to, None),
        ];
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    let batches = batches_of_values(&scenario.events, args.push.batch_size);
    let options = args.push.options(scenario.events.len() as u64);
    let stats = push(&args.target.push_target(), batches.into_iter(), &options).await?;
    println!("{}", summary(&stats));
    println!(
        "window of the scenario: --from {} --to {} (also {} to {})",
        scenario.from,
        scenario.to,
        random::STANDARD_PERIOD.0,
        random::STANDARD_PERIOD.1
    );
    Ok(())
}
