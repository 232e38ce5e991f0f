//! `egov scorecard`: wiring only; the scorecard and its formats are
//! `egov_analytics::scorecard`.

use anyhow::Context;
use egov_analytics::scorecard::table::{self, Lang};
use egov_analytics::scorecard::{self as card, xlsx, ScorecardRequest};
use egov_model::Level;
use egov_runtime::config::Settings;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ScorecardArgs {
    /// First local date of the period (YYYY-MM-DD), included.
    #[arg(long)]
    from: chrono::NaiveDate,
    /// Last local date of the period (YYYY-MM-DD), included.
    #[arg(long)]
    to: chrono::NaiveDate,
    /// Only the units of this level: province, district or commune.
    #[arg(long)]
    level: Option<Level>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write to this file instead of standard output (`--format xlsx` needs one
    /// unless standard output is redirected).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Language of headers and titles: `en` or `vi` (values are the same in both).
    #[arg(long, value_enum, default_value = "en")]
    lang: LangArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
    Xlsx,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LangArg {
    En,
    Vi,
}

pub async fn run(settings: &Settings, args: ScorecardArgs) -> anyhow::Result<()> {
    let catalogue = settings.catalogue.load()?;
    let client = egov_runtime::clickhouse::query_client(&settings.clickhouse)?;
    let request = ScorecardRequest {
        from: args.from,
        to: args.to,
        level: args.level,
    };
    let scorecard = card::scorecard(
        &client,
        &settings.clickhouse.database,
        &catalogue,
        &request,
        &settings.scorecard,
    )
    .await?;
    let lang = match args.lang {
        LangArg::En => Lang::En,
        LangArg::Vi => Lang::Vi,
    };
    let bytes = match args.format {
        Format::Table => table::table(&scorecard, lang).into_bytes(),
        Format::Json => {
            let mut json = serde_json::to_vec_pretty(&scorecard)?;
            json.push(b'\n');
            json
        }
        Format::Csv => table::csv(&scorecard, lang)?,
        Format::Xlsx => xlsx::workbook(&scorecard, lang)?,
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            if matches!(args.format, Format::Xlsx)
                && std::io::IsTerminal::is_terminal(&std::io::stdout())
            {
                anyhow::bail!(
                    "an XLSX workbook is binary: give --output FILE (or redirect standard output)"
                );
            }
            std::io::stdout().lock().write_all(&bytes)?;
        }
    }
    Ok(())
}
