//! What every phase of a run shares: the arguments, the settings, the names
//! of the run's resources, the catalogue, a ClickHouse client, where the logs
//! go, and the results being filled in.

use crate::args::Args;
use crate::ch::ClickHouse;
use crate::egov::{egov_env, free_port, EgovProcess};
use crate::names::Names;
use crate::report::{self, Results};
use egov_model::Catalogue;
use egov_runtime::config::Settings;
use std::path::PathBuf;
use std::time::Duration;

pub struct Bench<'a> {
    pub args: &'a Args,
    pub settings: &'a Settings,
    pub names: &'a Names,
    pub catalogue: Catalogue,
    pub ch: ClickHouse,
    /// Where the logs of the `egov` processes go (beside the results).
    pub log_dir: PathBuf,
    pub results: Results,
}

impl<'a> Bench<'a> {
    /// Creates the run's topics and the log directory.
    pub async fn new(
        args: &'a Args,
        settings: &'a Settings,
        names: &'a Names,
    ) -> anyhow::Result<Self> {
        let catalogue = Catalogue::embedded()?;
        let ch = ClickHouse::new(&settings.clickhouse)?;
        let mut results = Results::new(args.batch, args.clients)?;
        results.run_id = names.id.clone();
        results.sizes = report::Sizes {
            events: args.events as u64,
            load_rows: args.load_rows as u64,
            fresh_secs: args.fresh_secs,
            rounds: args.rounds as u64,
        };
        egov_runtime::kafka::ensure_topics(&settings.kafka, &names.topics()).await?;
        let log_dir = args.out.parent().map(PathBuf::from).unwrap_or_default();
        std::fs::create_dir_all(&log_dir)?;
        Ok(Self {
            args,
            settings,
            names,
            catalogue,
            ch,
            log_dir,
            results,
        })
    }

    /// Starts `egov <command>` on a free port, reading `raw_topic`, its output
    /// to `log` in the log directory, and waits until it is ready. Returns
    /// the process and its ingest address.
    pub async fn start_egov(
        &self,
        command: &str,
        raw_topic: &str,
        log: &str,
        what: &str,
    ) -> anyhow::Result<(EgovProcess, String)> {
        let address = format!("127.0.0.1:{}", free_port()?);
        let env = egov_env(self.args, self.settings, self.names, raw_topic, &address)?;
        let log = self.log_dir.join(log);
        crate::say(format!(
            "{what}{} {command} on {address} (log {})",
            self.args.egov.display(),
            log.display()
        ));
        let mut process =
            EgovProcess::spawn(&self.args.egov, command, &env, address.clone(), &log)?;
        process.wait_ready(Duration::from_secs(90)).await?;
        Ok((process, address))
    }
}
