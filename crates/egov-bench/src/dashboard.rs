//! Part of phase `scorecard`: every page and API call of `egov dashboard`
//! (the router's own lists, `egov_dashboard::PAGES` and `API`) for the whole
//! year 2021 on the 2021 scenario. Each path gets [`FIRST_VIEWS`] dashboard
//! processes of its own in turn, with warming off (`dashboard.warm_every_s`
//! 0), so that each first view finds the figures' cache empty and waits for
//! ClickHouse (whose own caches are warm by then: the scorecard was measured
//! before); the path's first view is their median, as `egov scorecard`'s time
//! is a median (one cold sample is mostly the machine's noise), and the
//! slowest of them is kept too. Then the same path again [`RUNS`] times on the
//! last process, the median being the cached view. The target is 300 ms per
//! page.

use crate::egov::{free_port, EgovProcess};
use crate::report::median;
use crate::say;
use anyhow::{bail, Context};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// Views of a path after its first one; their median is the cached view.
const RUNS: usize = 5;

/// Fresh processes per path; the median of their first views is the path's.
const FIRST_VIEWS: usize = 3;

/// The units whose pages are measured: the service center (the most dossiers)
/// and a district.
const UNITS: [&str; 2] = ["000.00.02.H62", "243"];

const PERIOD: &str = "from=2021-01-01&to=2021-12-31";

#[derive(Debug, Clone, Default, Serialize)]
pub struct PageTiming {
    pub path: String,
    pub bytes: usize,
    /// The first request to a fresh dashboard, ms: the median of
    /// [`FIRST_VIEWS`] processes.
    pub first_ms: f64,
    /// The slowest of those first views, ms.
    pub first_ms_slowest: f64,
    /// The median of the next ones (answered from the dashboard's cache where
    /// the page caches; `/pipeline` never does), ms.
    pub cached_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    pub pages: Vec<PageTiming>,
    /// The slowest first view (median of its processes) of a page or API call.
    pub first_ms_max: f64,
    /// The slowest single first view of any process.
    pub first_ms_slowest: f64,
    /// The slowest cached view.
    pub cached_ms_max: f64,
}

/// Every path to measure: the pages and API calls, `{code}` as each of [`UNITS`].
fn paths() -> Vec<String> {
    let mut out = Vec::new();
    for path in egov_dashboard::PAGES
        .iter()
        .chain(egov_dashboard::API.iter())
    {
        if path.contains("{code}") {
            out.extend(UNITS.iter().map(|code| path.replace("{code}", code)));
        } else {
            out.push((*path).to_owned());
        }
    }
    out
}

async fn get(http: &reqwest::Client, url: &str) -> anyhow::Result<(Duration, usize)> {
    let started = Instant::now();
    let response = http.get(url).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let elapsed = started.elapsed();
    if !status.is_success() {
        bail!("{url}: {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok((elapsed, body.len()))
}

async fn wait_listening(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("egov dashboard does not answer at {base} after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Measures every path with `egov dashboard` started with `env` (ClickHouse,
/// its database, Kafka), logs in `log_dir`.
pub async fn measure(
    egov: &Path,
    mut env: Vec<(String, String)>,
    log_dir: &Path,
) -> anyhow::Result<Figures> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let address = format!("127.0.0.1:{}", free_port()?);
    env.push(("EGOV__DASHBOARD__LISTEN".into(), address.clone()));
    env.push(("EGOV__DASHBOARD__QUERY_TIMEOUT_MS".into(), "60000".into()));
    env.push(("EGOV__DASHBOARD__WARM_EVERY_S".into(), "0".into()));
    let base = format!("http://{address}");
    let log = log_dir.join("egov-dashboard.log");
    let mut figures = Figures::default();
    for path in paths() {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{base}{path}{sep}{PERIOD}");
        let mut firsts = Vec::with_capacity(FIRST_VIEWS);
        let mut cached = Vec::with_capacity(RUNS);
        let mut bytes = 0;
        for view in 1..=FIRST_VIEWS {
            let process = EgovProcess::spawn(egov, "dashboard", &env, address.clone(), &log)?;
            wait_listening(&http, &base).await?;
            let measured = async {
                let (first, size) = get(&http, &url).await?;
                firsts.push(ms(first));
                bytes = size;
                // The cached views, once, on the last process.
                if view == FIRST_VIEWS {
                    for _ in 0..RUNS {
                        cached.push(ms(get(&http, &url).await?.0));
                    }
                }
                anyhow::Ok(())
            }
            .await;
            process.stop().await?;
            measured.with_context(|| format!("dashboard {path}"))?;
        }
        let timing = PageTiming {
            path: path.clone(),
            bytes,
            first_ms: median(&firsts),
            first_ms_slowest: firsts.iter().copied().fold(f64::NAN, f64::max),
            cached_ms: median(&cached),
        };
        let each: Vec<String> = firsts.iter().map(|ms| format!("{ms:.0}")).collect();
        say(format!(
            "scorecard: dashboard {path}: first view {:.0} ms (median of {}), cached {:.1} ms ({} bytes)",
            timing.first_ms,
            each.join(", "),
            timing.cached_ms,
            timing.bytes
        ));
        figures.pages.push(timing);
    }
    let max = |f: fn(&PageTiming) -> f64| figures.pages.iter().map(f).fold(f64::NAN, f64::max);
    figures.first_ms_max = max(|p| p.first_ms);
    figures.first_ms_slowest = max(|p| p.first_ms_slowest);
    figures.cached_ms_max = max(|p| p.cached_ms);
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_measured_with_real_codes() {
        let all = paths();
        assert!(all.iter().all(|p| !p.contains('{')), "{all:?}");
        assert!(all.contains(&"/unit/243".to_owned()));
        assert!(all.contains(&"/api/unit/000.00.02.H62".to_owned()));
        assert_eq!(
            all.len(),
            egov_dashboard::PAGES.len() + egov_dashboard::API.len() + 2,
            "two routes take a unit code"
        );
    }
}
