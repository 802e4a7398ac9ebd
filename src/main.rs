//! The `gauntlet` command line: parses arguments, calls the library, maps
//! errors to exit codes. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use gauntlet::corpus::Decision;
use gauntlet::evaluate::Lane;
use gauntlet::evaluate::{status_name, WaiverStatus};
use gauntlet::partition::Partition;
use gauntlet::pipeline::{self, RunOptions};
use gauntlet::report::terminal;
use gauntlet::report::text::terminal_safe;
use gauntlet::serve::Judge;
use gauntlet::target::builtin::{Firewall, Overrides, DEFAULT_RULES};
use gauntlet::{exit_code, Error};

/// Like println!, but a closed pipe (`gauntlet run | head`) is not a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

#[derive(Parser)]
#[command(name = "gauntlet", version, about = "CI conformance and calibration harness for LLM security gates")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LaneArg {
    Preflight,
    Full,
}

impl From<LaneArg> for Lane {
    fn from(l: LaneArg) -> Lane {
        match l {
            LaneArg::Preflight => Lane::Preflight,
            LaneArg::Full => Lane::Full,
        }
    }
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("`{s}` is not a YYYY-MM-DD date"))
}

#[derive(Subcommand)]
enum Command {
    /// Replay the corpora through the target and judge the gates.
    Run {
        /// The project config.
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        /// Write reports here instead of the config's reports folder.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "full")]
        lane: LaneArg,
        /// No progress bar and no table; the exit code still tells.
        #[arg(long, short)]
        quiet: bool,
        /// Judge waivers as of this date (YYYY-MM-DD); also GAUNTLET_TODAY.
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
        /// Replay each case N times (non-deterministic targets); rates use the majority.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeat: u32,
        /// Replay twice, on different thread counts, and fail on any difference.
        #[arg(long)]
        check_determinism: bool,
        /// Run only shard M of N (1-based): hash:M/N. Writes a shard result for `gauntlet merge`.
        #[arg(long)]
        partition: Option<Partition>,
    },
    /// Combine shard results (folders written by `run --partition`) into one verdict and reports.
    Merge {
        /// Shard folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Monthly calibration review: threshold sweep, ROC/AUC, target-FPR operating points, baseline comparison.
    Calibrate {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        /// Saved results (results.jsonl or its folder) instead of a replay.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Baseline results (folder or results.jsonl); default reports/baseline/ when present.
        #[arg(long)]
        baseline: Option<PathBuf>,
        #[arg(long, value_delimiter = ',', default_value = "0.01,0.05,0.10")]
        target_fpr: Vec<f64>,
        /// Which FPR must meet the target: upper (95% bound, default) or point.
        #[arg(long, default_value = "upper")]
        bound: String,
        /// Smallest worsening (absolute, e.g. 0.01 = 1 point) that counts as a regression.
        #[arg(long, default_value_t = 0.01)]
        tolerance: f64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Release readiness: one GO / NO-GO from verdict, waivers, fixtures, calibration and decision logs.
    Release {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        #[arg(long)]
        version: Option<String>,
        /// JSONL decision logs; prefix `canary:` or `baseline:`, or let `policy-version` = --version mark the canary.
        #[arg(long)]
        decision_log: Vec<String>,
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Scaffold a working project (config, example corpus, gates, fixtures, waiver template, CI workflow).
    Init {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Print a JSON Schema: verdict (default), waiver-audit or calibration.
    Schema {
        #[arg(default_value = "verdict")]
        which: String,
    },
    /// The built-in firewall as a target process or server.
    Target {
        #[command(subcommand)]
        command: TargetCommand,
    },
    /// Re-render dashboard.html, junit.xml, summary.md (and results.csv) from saved files.
    Report {
        #[arg(long, default_value = "reports/verdict.json")]
        from: PathBuf,
        #[arg(long)]
        results: Option<PathBuf>,
        /// Where to write (default: beside the verdict).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Golden fixtures.
    Fixtures {
        #[command(subcommand)]
        command: FixturesCommand,
    },
    /// Time-bounded waivers.
    Waivers {
        #[command(subcommand)]
        command: WaiversCommand,
    },
}

#[derive(Subcommand)]
enum TargetCommand {
    /// Serve the built-in firewall over the target protocol (docs/protocol.md).
    Serve {
        /// JSON lines on stdin/stdout.
        #[arg(long, conflicts_with = "http")]
        stdio: bool,
        /// HTTP on ADDR (e.g. 127.0.0.1:8080; port 0 picks one and prints it).
        #[arg(long)]
        http: Option<String>,
        /// Answer every request with this decision without judging (a trivial
        /// target for benchmarking the harness): allow, block or require_approval.
        #[arg(long)]
        always: Option<String>,
        /// Rules file instead of the embedded rules.
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long)]
        threshold: Option<f64>,
        /// The system prompt whose leakage egress detection looks for.
        #[arg(long)]
        system_prompt: Option<String>,
    },
}

#[derive(Subcommand)]
enum FixturesCommand {
    /// Replay and accept the current decisions as fixtures/golden snapshots (refused when CI is set).
    Bless {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum WaiversCommand {
    /// Check every waiver (no replay): exit 1 on an expired or invalid one.
    Audit {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Append a valid waiver for a gate to waivers/waivers.toml.
    New {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        #[arg(long)]
        gate: String,
        #[arg(long)]
        days: i64,
        #[arg(long)]
        owner: String,
        #[arg(long)]
        tracking: String,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "both")]
        scope: String,
        #[arg(long, default_value = "the gate passes without it")]
        remove_when: String,
        #[arg(long)]
        id: Option<String>,
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            let code = match e.downcast_ref::<Error>() {
                Some(err) => err.exit_code(),
                None => exit_code::TARGET_ERROR,
            };
            eprintln!("{e:#}");
            ExitCode::from(code as u8)
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Calibrate { config, from, baseline, target_fpr, bound, tolerance, out } => {
            let bound = match bound.as_str() {
                "upper" => gauntlet::calibrate::FprBound::Upper,
                "point" => gauntlet::calibrate::FprBound::Point,
                other => return Err(Error::Usage(format!("--bound `{other}`: upper or point")).into()),
            };
            if target_fpr.iter().any(|f| !(0.0..1.0).contains(f)) {
                return Err(Error::Usage("--target-fpr values are fractions in [0, 1)".into()).into());
            }
            let c = pipeline::calibrate(&pipeline::CalibrateOptions {
                config,
                from,
                baseline,
                target_fprs: target_fpr,
                bound,
                tolerance,
                out_dir: out,
            })?;
            out!("{}", terminal_safe(&c.recommendation).replace("\\u{a}", "\n"));
            let regression = c.baseline.as_ref().is_some_and(|b| b.regression_detected);
            if let Some(b) = &c.baseline {
                out!("baseline: regression {}", if b.regression_detected { "DETECTED" } else { "not detected" });
            }
            Ok(if regression { exit_code::GATE_FAILED } else { exit_code::PASS })
        }
        Command::Release { config, version, decision_log, today, out } => {
            let r = pipeline::release(&pipeline::ReleaseOptions {
                config,
                version,
                decision_logs: decision_log,
                today,
                out_dir: out,
            })?;
            out!("{}", r.decision);
            for b in &r.blocking {
                out!(
                    "  {}: {} (evidence: {})",
                    terminal_safe(&b.check),
                    terminal_safe(&b.message),
                    terminal_safe(&b.evidence)
                );
            }
            Ok(if r.decision == "GO" { exit_code::PASS } else { exit_code::GATE_FAILED })
        }
        Command::Init { dir } => {
            let written = gauntlet::init::init(&dir)?;
            for f in &written {
                out!("wrote {}", f.display());
            }
            out!("next: cd {} && gauntlet run", dir.display());
            Ok(exit_code::PASS)
        }
        Command::Merge { shards, config, out, today, quiet } => {
            let output = pipeline::merge(&shards, &config, out.as_deref(), today)?;
            if !quiet {
                out_raw!("{}", terminal::render(&output.verdict));
                out!("reports: {}", output.reports_dir.display());
            }
            Ok(output.verdict.exit_code)
        }
        Command::Run { config, out, lane, quiet, today, repeat, check_determinism, partition } => {
            let output = pipeline::run(&RunOptions {
                out_dir: out,
                lane: lane.into(),
                quiet,
                today,
                repeat,
                check_determinism,
                partition,
                ..RunOptions::new(config)
            })?;
            if !quiet {
                out_raw!("{}", terminal::render(&output.verdict));
                out!("reports: {}", output.reports_dir.display());
            }
            Ok(output.verdict.exit_code)
        }
        Command::Schema { which } => {
            let schema = match which.as_str() {
                "verdict" => gauntlet::report::verdict_schema(),
                "waiver-audit" => gauntlet::report::waiver_audit_schema(),
                "calibration" => serde_json::to_value(schemars::schema_for!(gauntlet::calibrate::Calibration))?,
                "release" => serde_json::to_value(schemars::schema_for!(gauntlet::release::ReleaseReport))?,
                other => {
                    return Err(Error::Usage(format!(
                        "unknown schema `{other}` (verdict, waiver-audit, calibration, release)"
                    ))
                    .into())
                }
            };
            out!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(exit_code::PASS)
        }
        Command::Target { command: TargetCommand::Serve { stdio, http, always, rules, threshold, system_prompt } } => {
            let overrides = Overrides { block_threshold: threshold, system_prompt, ..Overrides::default() };
            let judge = match (always, rules) {
                (Some(d), _) => Judge::Always(
                    Decision::parse(&d).ok_or_else(|| Error::Usage(format!("--always `{d}` is not a decision")))?,
                ),
                (None, Some(path)) => Judge::Firewall(Box::new(Firewall::from_file(&path, overrides)?)),
                (None, None) => Judge::Firewall(Box::new(Firewall::from_toml(
                    std::path::Path::new("<embedded rules.toml>"),
                    DEFAULT_RULES,
                    overrides,
                )?)),
            };
            match (stdio, http) {
                (true, _) => gauntlet::serve::serve_stdio(&judge)?,
                (false, Some(addr)) => gauntlet::serve::serve_http(std::sync::Arc::new(judge), &addr)?,
                (false, None) => return Err(Error::Usage("choose --stdio or --http ADDR".into()).into()),
            }
            Ok(exit_code::PASS)
        }
        Command::Report { from, results, out } => {
            let verdict = pipeline::report_from(&from, results.as_deref(), out.as_deref())?;
            out!("re-rendered reports for a {} verdict", verdict.verdict.as_str());
            Ok(exit_code::PASS)
        }
        Command::Fixtures { command: FixturesCommand::Bless { config } } => {
            if gauntlet::golden_file::in_ci() {
                return Err(
                    Error::Usage("refusing to bless snapshots with CI set: review and bless locally".into()).into()
                );
            }
            let output = pipeline::run(&RunOptions { bless: true, ..RunOptions::new(config) })?;
            for g in &output.verdict.golden {
                out!("{}: {:?}", terminal_safe(&g.path), g.status);
            }
            Ok(exit_code::PASS)
        }
        Command::Waivers { command: WaiversCommand::Audit { config, today, out } } => {
            let audit = pipeline::audit_waivers(&config, today, out.as_deref())?;
            for w in &audit.waivers {
                out!("{:<14} {}  {}", status_name(w.status), terminal_safe(&w.id), terminal_safe(&w.detail.join("; ")));
            }
            let blocking =
                audit.waivers.iter().any(|w| matches!(w.status, WaiverStatus::Expired | WaiverStatus::Invalid));
            out!("{} waiver(s); {}", audit.waivers.len(), if blocking { "FAIL" } else { "ok" });
            Ok(if blocking { exit_code::GATE_FAILED } else { exit_code::PASS })
        }
        Command::Waivers {
            command: WaiversCommand::New { config, gate, days, owner, tracking, reason, scope, remove_when, id, today },
        } => {
            let file = pipeline::new_waiver(
                &config,
                today,
                &pipeline::NewWaiver { gate, days, owner, tracking, reason, scope, remove_when, id },
            )?;
            out!("appended to {}", file.display());
            Ok(exit_code::PASS)
        }
    }
}
