//! `egov dashboard` in a real browser: the binary on port 0 against a database
//! this test owns, filled with a random scenario through the pipeline; every
//! page loaded in headless Chromium (Debian's `chromium`, or
//! `EGOV_TEST_CHROMIUM`), its figures read from the page's `data-figure` /
//! `data-value` attributes and checked against `egov report --format json`;
//! the language switched; a screenshot of each page saved under
//! `target/dashboard-screens/`.

#[path = "dashboard/late.rs"]
mod late;

use anyhow::{bail, Context};
use calamine::{Reader, Xlsx};
use egov_dashboard::i18n::Lang;
use egov_model::format;
use egov_tests::Pipeline;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The browser: `EGOV_TEST_CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("EGOV_TEST_CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!("this test needs Chromium: `apt-get install chromium` (deploy/local/up.sh installs it) or EGOV_TEST_CHROMIUM=/path/to/chrome")
}

/// Where the screenshots go: `target/dashboard-screens/`.
fn screens_dir() -> anyhow::Result<PathBuf> {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp
        .parent()
        .context("CARGO_TARGET_TMPDIR has no parent")?
        .join("dashboard-screens");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

struct Browser {
    binary: PathBuf,
    profile: PathBuf,
}

impl Browser {
    fn new() -> anyhow::Result<Self> {
        let profile =
            std::env::temp_dir().join(format!("egov-chromium-{}", uuid::Uuid::new_v4().simple()));
        Ok(Self {
            binary: chromium()?,
            profile,
        })
    }

    /// The DOM of `url` after its scripts ran, and a screenshot of it in `png`.
    fn load(&self, url: &str, png: Option<&PathBuf>) -> anyhow::Result<String> {
        let mut command = Command::new(&self.binary);
        command.args([
            "--headless",
            "--no-sandbox", // the tests run as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--virtual-time-budget=8000",
            "--window-size=1400,1600",
        ]);
        command.arg(format!("--user-data-dir={}", self.profile.display()));
        if let Some(png) = png {
            command.arg(format!("--screenshot={}", png.display()));
        }
        command.arg("--dump-dom").arg(url);
        let output = command
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.binary.display()))?;
        let dom = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() || !dom.contains("</html>") {
            bail!(
                "chromium could not load {url} ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(dom)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `egov dashboard` as a process on a free port, stopped when dropped.
struct Dashboard {
    child: Child,
    base: String,
}

impl Dashboard {
    fn start(env: &[(String, String)]) -> anyhow::Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_egov"))
            .arg("dashboard")
            .env_remove("EGOV_CONFIG")
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("EGOV__DASHBOARD__LISTEN", "127.0.0.1:0")
            .env("EGOV__LOG__FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .spawn()?;
        // The logs (JSON lines on stderr) say where it listens.
        let stderr = child.stderr.take().context("no stderr")?;
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("dashboard: {line}");
                if let Ok(log) = serde_json::from_str::<Value>(&line) {
                    if log["message"] == "dashboard listening" {
                        let _ = sender.send(log["address"].as_str().unwrap_or("").to_owned());
                    }
                }
            }
        });
        match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => Ok(Self {
                child,
                base: format!("http://{address}"),
            }),
            Err(_) => {
                let _ = child.kill();
                bail!("egov dashboard did not say where it listens within 60 s")
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every `data-figure="…" data-value="…"` of a page.
fn figures(dom: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut rest = dom;
    while let Some(start) = rest.find("data-figure=\"") {
        rest = &rest[start + 13..];
        let Some(end) = rest.find('"') else { break };
        let name = rest[..end].to_owned();
        rest = &rest[end..];
        if let Some(value) = rest.strip_prefix("\" data-value=\"") {
            if let Some(end) = value.find('"') {
                found.insert(name, value[..end].to_owned());
            }
        }
    }
    found
}

/// The text of the cell of `figure` (between `>` and `<`).
fn shown(dom: &str, figure: &str) -> Option<String> {
    let at = dom.find(&format!("data-figure=\"{figure}\""))?;
    let rest = &dom[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    Some(rest[start..end].to_owned())
}

/// The figures of a report JSON object (`documents`/`dossiers` → level → key)
/// as the page names them.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, value, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// Asserts that the page shows `expected` exactly: counts equal, rates the same double.
fn assert_same(page: &BTreeMap<String, String>, expected: &BTreeMap<String, Value>, what: &str) {
    for (name, value) in expected {
        let got = page
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no figure {name} on the page"));
        match value {
            Value::Null => assert_eq!(got, "null", "{what}: {name}"),
            Value::Number(n) => {
                let expected = n.as_f64().unwrap_or(f64::NAN);
                let got: f64 = got.parse().unwrap_or(f64::NAN);
                assert_eq!(got, expected, "{what}: {name}");
            }
            other => panic!("{what}: unexpected figure {name} = {other}"),
        }
    }
}

fn egov_json(args: &[&str], env: &[(String, String)]) -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&egov_text(args, env)?)?)
}

/// The body of a download link (a CSV or a workbook); fails unless answered 2xx.
async fn download(url: &str) -> anyhow::Result<Vec<u8>> {
    let response = reqwest::get(url).await?.error_for_status()?;
    Ok(response.bytes().await?.to_vec())
}

/// What `egov ARGS` prints.
fn egov_text(args: &[&str], env: &[(String, String)]) -> anyhow::Result<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_egov"))
        .args(args)
        .env_remove("EGOV_CONFIG")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        bail!("egov {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8(output.stdout)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_a_browser_shows_the_report_s_figures() -> anyhow::Result<()> {
    let browser = Browser::new()?;
    let screens = screens_dir()?;
    let pipeline = Pipeline::start("dashboard").await?;
    let scenario = egov_scenario::random::random_scenario_with_window(11, 1_500);
    pipeline
        .push_and_wait(&scenario.events, Duration::from_secs(120))
        .await?;
    // One part per partition from here on: row counts no longer change.
    pipeline.query("OPTIMIZE TABLE events FINAL").await?;
    // The figures read the rollups, which trail the events by an insert's views.
    pipeline
        .wait_for_figures(&scenario.events, scenario.from, scenario.to)
        .await?;

    let settings = &pipeline.settings;
    let env = settings.to_env();
    let dashboard = Dashboard::start(&env)?;
    let (from, to) = (scenario.from.to_string(), scenario.to.to_string());
    let period = format!("from={from}&to={to}");

    // Overview: every figure of `egov report` for the period.
    let started = Instant::now();
    let dom = browser.load(
        &dashboard.url(&format!("/?{period}")),
        Some(&screens.join("overview.png")),
    )?;
    eprintln!(
        "overview loaded in the browser in {:.1?}",
        started.elapsed()
    );
    assert!(dom.contains("<html lang=\"vi\">"), "Vietnamese by default");
    assert!(dom.contains(">Tổng quan</h2>"));
    let report = egov_json(
        &["report", "--from", &from, "--to", &to, "--format", "json"],
        &env,
    )?;
    let mut expected = BTreeMap::new();
    flatten("documents", &report["documents"], &mut expected);
    flatten("dossiers", &report["dossiers"], &mut expected);
    let page = figures(&dom);
    assert_same(&page, &expected, "overview");
    // The district+commune row, as `egov report`'s tables print it.
    let tables = egov_text(&["report", "--from", &from, "--to", &to], &env)?;
    let line = tables
        .lines()
        .find(|l| l.starts_with("district+commune"))
        .context("egov report prints no district+commune row")?;
    let cells: Vec<&str> = line.split_whitespace().skip(1).collect();
    let keys = [
        "received",
        "carried_over",
        "in_period",
        "due",
        "resolved_early",
        "resolved_on_time",
        "resolved_late",
        "pending_in_time",
        "pending_overdue",
        "on_time_rate",
        "online",
        "online_share",
    ];
    assert_eq!(cells.len(), keys.len(), "{line}");
    for (key, cell) in keys.iter().zip(&cells) {
        let value = page
            .get(&format!("dossiers.district+commune.{key}"))
            .with_context(|| format!("no district+commune {key} on the page"))?;
        if key.ends_with("_rate") || key.ends_with("_share") {
            let printed = value
                .parse::<f64>()
                .map_or_else(|_| "–".to_owned(), |r| format!("{:.2}%", r * 100.0));
            assert_eq!(&printed, cell, "district+commune {key}");
        } else {
            assert_eq!(value, &cell.replace(',', ""), "district+commune {key}");
        }
    }
    let total = report["dossiers"]["total"]["received"]
        .as_u64()
        .unwrap_or(0);
    assert!(total > 0, "the scenario has dossiers in its window");
    assert_eq!(
        shown(&dom, "dossiers.total.received").as_deref(),
        Some(format::count(total, Lang::Vi).as_str())
    );
    assert_eq!(
        shown(&dom, "dossiers.total.on_time_rate"),
        Some(format::percent(
            report["dossiers"]["total"]["on_time_rate"].as_f64(),
            Lang::Vi
        ))
    );

    // The language switch: the link the page offers.
    let english = link(&dom, "data-lang=\"en\"").context("no link to English")?;
    let dom_en = browser.load(
        &dashboard.url(&english),
        Some(&screens.join("overview-en.png")),
    )?;
    assert!(dom_en.contains("<html lang=\"en\">"));
    assert!(dom_en.contains(">Overview</h2>"));
    assert_same(&figures(&dom_en), &expected, "overview in English");
    assert_eq!(
        shown(&dom_en, "dossiers.total.received").as_deref(),
        Some(format::count(total, Lang::En).as_str())
    );

    // Unit: the unit with the most dossiers, its own figures as `egov report --by-unit`.
    let by_unit = egov_json(
        &[
            "report",
            "--from",
            &from,
            "--to",
            &to,
            "--by-unit",
            "--format",
            "json",
        ],
        &env,
    )?;
    let busiest = by_unit
        .as_array()
        .into_iter()
        .flatten()
        .max_by_key(|u| u["dossiers"]["received"].as_u64().unwrap_or(0))
        .context("no unit in the report")?;
    let code = busiest["unit_code"].as_str().unwrap_or("").to_owned();
    let dom = browser.load(
        &dashboard.url(&format!("/unit/{code}?{period}")),
        Some(&screens.join("unit.png")),
    )?;
    let mut expected = BTreeMap::new();
    flatten("documents", &busiest["documents"], &mut expected);
    flatten("dossiers", &busiest["dossiers"], &mut expected);
    let page = figures(&dom);
    assert_same(&page, &expected, &format!("unit {code}"));
    assert_eq!(
        dom.matches("<svg").count(),
        4,
        "four charts on the unit page"
    );
    assert!(
        dom.contains(">Hồ sơ trễ hạn</h3>"),
        "the late dossiers, in Vietnamese"
    );
    // Dossiers received add up over the months.
    let monthly: u64 = page
        .iter()
        .filter(|(k, _)| k.starts_with("months.") && k.ends_with(".dossiers.received"))
        .map(|(_, v)| v.parse::<u64>().unwrap_or(0))
        .sum();
    assert_eq!(
        monthly,
        busiest["dossiers"]["received"].as_u64().unwrap_or(0)
    );

    // Scorecard: every unit's figures as `egov scorecard --format json`, and
    // the XLSX the page links to holds exactly the rows shown.
    let dom = browser.load(
        &dashboard.url(&format!("/scorecard?{period}")),
        Some(&screens.join("scorecard.png")),
    )?;
    let scorecard = egov_json(
        &[
            "scorecard",
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "json",
        ],
        &env,
    )?;
    let units = scorecard["units"].as_array().context("no units")?;
    let page = figures(&dom);
    let mut expected = BTreeMap::new();
    for unit in units {
        let code = unit["code"].as_str().unwrap_or("");
        for (section, key) in [
            ("documents", "incoming"),
            ("documents", "outgoing"),
            ("documents", "signed_rate"),
            ("dossiers", "received"),
            ("dossiers", "due"),
            ("dossiers", "on_time_rate"),
            ("dossiers", "online_share"),
        ] {
            expected.insert(
                format!("units.{code}.{section}.{key}"),
                unit[section][key].clone(),
            );
        }
        expected.insert(format!("units.{code}.rank"), unit["rank"].clone());
        let silent = unit["silent"].as_bool().unwrap_or(false);
        assert!(
            dom.contains(&format!("data-unit=\"{code}\" data-silent=\"{silent}\"")),
            "unit {code} silent {silent}"
        );
    }
    assert_same(&page, &expected, "scorecard");
    late::check(
        &browser,
        &dashboard,
        settings,
        units,
        (scenario.from, scenario.to),
        &screens,
    )
    .await?;
    assert!(dom.contains(&format!("id=\"summary\" data-units=\"{}\"", units.len())));
    let xlsx_link = link(&dom, "id=\"download-xlsx\"").context("no XLSX link")?;
    let bytes = download(&dashboard.url(&xlsx_link)).await?;
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))?;
    let mut rows = 0;
    for sheet in workbook.sheet_names() {
        rows += workbook
            .worksheet_range(&sheet)?
            .rows()
            .count()
            .saturating_sub(1);
    }
    assert_eq!(rows, units.len(), "the workbook has the rows shown");
    // Filtered to one district: the page, and its download, only that district's units.
    let district = "243";
    let dom = browser.load(
        &dashboard.url(&format!(
            "/scorecard?{period}&district={district}&sort=dossiers.on_time_rate&order=desc"
        )),
        None,
    )?;
    let in_district = units
        .iter()
        .filter(|u| u["district_code"].as_str() == Some(district))
        .count();
    assert!(dom.contains(&format!("id=\"summary\" data-units=\"{in_district}\"")));
    let csv_link = link(&dom, "id=\"download-csv\"").context("no CSV link")?;
    let csv = String::from_utf8(download(&dashboard.url(&csv_link)).await?)?;
    assert_eq!(csv.lines().count(), in_district + 1, "{csv}");

    // Pipeline: everything loaded, nothing waiting, no dead letters.
    let dom = browser.load(
        &dashboard.url(&format!("/pipeline?{period}")),
        Some(&screens.join("pipeline.png")),
    )?;
    let page = figures(&dom);
    assert_eq!(page.get("lag.transform").map(String::as_str), Some("0"));
    assert_eq!(page.get("lag.load").map(String::as_str), Some("0"));
    let rows: u64 = pipeline
        .query("SELECT count() FROM events")
        .await?
        .trim()
        .parse()?;
    assert!(
        dom.contains(&format!("id=\"card-last-hour\" data-value=\"{rows}\"")),
        "the last hour shows the {rows} rows loaded"
    );
    assert!(dom.contains("id=\"card-dead-letters\" data-value=\"0\""));

    drop(dashboard);
    pipeline.stop().await
}

/// The `href` of the first element with `marker` among its attributes, unescaped.
fn link(dom: &str, marker: &str) -> Option<String> {
    let at = dom.find(marker)?;
    let tag_start = dom[..at].rfind('<')?;
    let tag = &dom[tag_start..];
    let href = tag.find("href=\"")? + 6;
    let end = tag[href..].find('"')? + href;
    Some(tag[href..end].replace("&amp;", "&"))
}
