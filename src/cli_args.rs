//! The command line's arguments (clap). Part of the binary, not the library:
//! each subcommand's options map one to one onto a library call in `main.rs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use gauntlet::calibrate::FprBound;
use gauntlet::corpus::Decision;
use gauntlet::evaluate::Lane;
use gauntlet::partition::Partition;
use gauntlet::report::SchemaKind;

#[derive(Parser)]
#[command(name = "gauntlet", version, about = "CI conformance and calibration harness for LLM security gates")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("`{s}` is not a YYYY-MM-DD date"))
}

/// `M/N` (or `hash:M/N`, as for `run`): runner M of N.
pub fn parse_runner(s: &str) -> Result<Partition, String> {
    if s.starts_with("hash:") {
        s.parse()
    } else {
        format!("hash:{s}").parse().map_err(|_| format!("`{s}`: expected M/N, e.g. 1/4"))
    }
}

/// `30s`, `500ms`, `2m`, `1h`, `1.5s`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.trim().parse().map_err(|_| format!("`{s}` is not a duration such as 30s or 500ms"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("`{s}`: the unit is one of ms, s, m, h")),
    };
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 7.0 * 86_400.0) {
        return Err(format!("`{s}` must be positive and at most a week"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

#[derive(Subcommand)]
pub enum Command {
    /// Replay the corpora through the target and judge the gates.
    Run {
        /// The project config.
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        /// `github`: also workflow-command annotations at the offending lines.
        #[arg(long, value_enum, default_value = "human")]
        format: OutputFormat,
        /// Write reports here instead of the config's reports folder.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "full")]
        lane: Lane,
        /// No progress (bar or lines); the gate table and verdict still print.
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
        /// Load and validate everything, print how many requests the run
        /// would send (and their cost, with `cost` in [target]), send none.
        #[arg(long, conflicts_with = "resume")]
        dry_run: bool,
        /// Continue a run that was cut off (Ctrl-C, a timeout, a spent
        /// budget): replay only the cases its journal has no outcome for.
        /// Refused when the config, corpora, gates or target changed.
        #[arg(long)]
        resume: bool,
        /// Run only shard M of N (1-based): hash:M/N. Writes a shard result for `gauntlet merge`.
        #[arg(long)]
        partition: Option<Partition>,
        #[command(flatten)]
        history: HistoryArgs,
    },
    /// Lint everything a run reads (config, corpora, gates, waivers, fixtures,
    /// reports folder) and probe the target, without replaying. Exit 2 on
    /// input problems, 3 when only the target probe fails.
    Check {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        /// `github`: also workflow-command annotations at the offending lines.
        #[arg(long, value_enum, default_value = "human")]
        format: OutputFormat,
        /// Do not probe the target (no process started, no request sent).
        #[arg(long)]
        offline: bool,
        /// Judge waivers as of this date (YYYY-MM-DD); also GAUNTLET_TODAY.
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
        /// No progress lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compare two runs on the same corpora (report folders): paired tests on
    /// shared cases, flipped cases, what changed. Exit 1 when a blocking
    /// gate's rate regressed beyond --tolerance.
    Diff {
        /// The base run's report folder (e.g. main's last run).
        a: PathBuf,
        /// The run compared with it (e.g. this branch's).
        b: PathBuf,
        /// Smallest worsening (absolute, 0.01 = one point) that counts as a regression.
        #[arg(long, default_value_t = 0.01)]
        tolerance: f64,
        /// Where diff.json and diff.md are written.
        #[arg(long, default_value = "reports/diff")]
        out: PathBuf,
    },
    /// Corpus tools.
    Corpus {
        #[command(subcommand)]
        command: CorpusCommand,
    },
    /// Combine shard results (folders written by `run --partition`) into one verdict and reports.
    Merge {
        /// Shard folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        /// `github`: also workflow-command annotations at the offending lines.
        #[arg(long, value_enum, default_value = "human")]
        format: OutputFormat,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
        #[arg(long, short)]
        quiet: bool,
        #[command(flatten)]
        history: HistoryArgs,
    },
    /// Monthly calibration review: threshold sweep, ROC/AUC, target-FPR operating points, baseline comparison.
    Calibrate {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        /// Saved results (results.jsonl or its folder) instead of a replay.
        #[arg(long)]
        from: Option<PathBuf>,
        /// A shadow-mode decision log instead: its labelled lines with a `score` (at least 100).
        #[arg(long)]
        decision_log: Option<PathBuf>,
        /// Baseline results (folder or results.jsonl); default reports/baseline/ when present.
        #[arg(long)]
        baseline: Option<PathBuf>,
        #[arg(long, value_delimiter = ',', default_value = "0.01,0.05,0.10")]
        target_fpr: Vec<f64>,
        /// Which FPR must meet the target: upper (95% bound, default) or point.
        #[arg(long, value_enum, default_value = "upper")]
        bound: FprBound,
        /// Smallest worsening (absolute, e.g. 0.01 = 1 point) that counts as a regression.
        #[arg(long, default_value_t = 0.01)]
        tolerance: f64,
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Latency under load: the cases at a fixed arrival rate (open loop),
    /// latency from each request's intended send time, answers compared
    /// with the same cases at rest; or, with --find-rate, the highest rate
    /// within bounds. Writes load.json.
    Load(LoadArgs),
    /// Adaptive evasion search: for each adversarial case the target
    /// blocks, variants that keep its meaning, chosen from the target's
    /// answers, until one is allowed or the budget is spent. Writes
    /// attack.json, attack.html and evasions.jsonl.
    Attack(AttackArgs),
    /// Release readiness: one GO / NO-GO from verdict, waivers, fixtures, calibration and decision logs.
    Release {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        #[arg(long)]
        version: Option<String>,
        /// JSONL decision logs; prefix `canary:` or `baseline:`, or let `policy-version` = --version mark the canary.
        #[arg(long)]
        decision_log: Vec<String>,
        /// When the bundle under release was deployed (RFC 3339); with it the
        /// rollback matrix judges the canary since then (ROLLBACK, exit 1).
        #[arg(long)]
        deployed_at: Option<String>,
        /// The promotion stage the bundle is in (`[release.promotion]`): GO
        /// then means promote it to the next stage.
        #[arg(long)]
        stage: Option<String>,
        /// When the stage began (RFC 3339; default --deployed-at).
        #[arg(long, requires = "stage")]
        stage_started_at: Option<String>,
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// The project's production rules ([release] in gauntlet.toml) as
    /// Prometheus recording and alerting rules, for `promtool` and Prometheus.
    Alerts {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        #[arg(long, value_enum, default_value = "prometheus")]
        format: AlertsFormat,
        /// Write the rules here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Scaffold a working project (config, example corpus, gates, fixtures, waiver template, CI workflow).
    Init {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The target to scaffold: builtin (the reference firewall), exec (a
        /// Python adapter to rewrite) or http (an endpoint).
        #[arg(long, default_value = "builtin")]
        target: gauntlet::init::ScaffoldTarget,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `gauntlet man > gauntlet.1; man -l gauntlet.1`.
    Man,
    /// Print a JSON Schema: verdict (default), waiver-audit, calibration or release.
    Schema {
        #[arg(value_enum, default_value = "verdict")]
        which: SchemaKind,
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
pub enum TargetCommand {
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
        #[arg(long, value_enum)]
        always: Option<Decision>,
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

/// What `gauntlet alerts` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlertsFormat {
    /// A Prometheus rules file (YAML).
    Prometheus,
}

/// How `run`, `check` and `merge` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// The gate table and messages.
    Human,
    /// The same, then GitHub Actions annotations (`::error file=…,line=…::`).
    Github,
}

impl Command {
    /// Whether stdout is for people (shielded under GitHub Actions), not a
    /// stream a program reads (a schema, the target protocol).
    pub fn prints_for_people(&self) -> bool {
        !matches!(
            self,
            Command::Schema { .. }
                | Command::Target { .. }
                | Command::Alerts { out: None, .. }
                | Command::Completions { .. }
                | Command::Man
        )
    }

    /// Whether this command was asked for GitHub annotations.
    pub fn github_format(&self) -> bool {
        matches!(
            self,
            Command::Run { format: OutputFormat::Github, .. }
                | Command::Check { format: OutputFormat::Github, .. }
                | Command::Merge { format: OutputFormat::Github, .. }
        )
    }
}

#[derive(Subcommand)]
pub enum CorpusCommand {
    /// Download every `[fetch]` dataset of the corpora into the cache
    /// (resuming partial downloads), verify it, and lock its SHA-256 in
    /// corpus.lock on first fetch. GAUNTLET_FETCH_MIRROR serves from a mirror.
    Fetch {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        /// No progress bar or lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Copy a catalogue dataset's corpus.toml into the project (then `corpus fetch`).
    Add {
        /// A name from `gauntlet corpus list`.
        name: String,
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
    },
    /// The catalogue of public datasets, with licences and pinned URLs.
    List,
    /// Write the robustness variants `[transforms]` makes as a JSONL corpus
    /// (with `origin` and `transform`), to review and commit.
    Expand {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        /// The lane whose transforms apply.
        #[arg(long, value_enum, default_value = "full")]
        lane: Lane,
        /// Default: corpora-expanded/variants.jsonl beside the config.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum FixturesCommand {
    /// Replay and accept the current decisions as fixtures/golden snapshots (refused when CI is set).
    Bless {
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum WaiversCommand {
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

/// Trends: which history file to read, and whether this run is added to it.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Append this full-lane run to the history (reports/history/history.jsonl).
    /// Without it a local run only reads the history: it changes no file the
    /// project may track in git.
    #[arg(long)]
    pub record: bool,
    /// Read and append this history file instead (in CI: one restored from
    /// the previous run's cache, saved again after).
    #[arg(long)]
    pub history: Option<PathBuf>,
}

impl From<HistoryArgs> for gauntlet::pipeline::History {
    fn from(a: HistoryArgs) -> Self {
        gauntlet::pipeline::History { path: a.history, record: a.record }
    }
}

/// `gauntlet load`'s options.
#[derive(clap::Args)]
pub struct LoadArgs {
    #[arg(long, default_value = "gauntlet.toml")]
    pub config: PathBuf,
    /// Requests per second (default `[load] rate`, else 100).
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long: `30s`, `500ms`, `2m` (default `[load] duration-seconds`, else 30 s).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    #[arg(long, value_enum)]
    pub arrivals: Option<gauntlet::load::Arrivals>,
    /// Requests in flight at most (default: the target's `concurrency`; the cores for the built-in target).
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Seed of the case order and of Poisson arrivals.
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, value_enum, default_value = "full")]
    pub lane: Lane,
    /// Write load.json here instead of the config's reports folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// This runner's share, M/N: it sends rate/N, its schedule offset
    /// so the runners interleave; `gauntlet merge` adds their histograms.
    #[arg(long, value_parser = parse_runner)]
    pub partition: Option<Partition>,
    /// Search the highest rate whose corrected p99 and error rate stay
    /// within --max-p99 and --max-error-rate: doubling, then bisection.
    #[arg(long)]
    pub find_rate: bool,
    #[arg(long, value_parser = parse_duration)]
    pub max_p99: Option<std::time::Duration>,
    #[arg(long)]
    pub max_error_rate: Option<f64>,
    /// How long each --find-rate step runs (default `[load] step-seconds`, else 10 s).
    #[arg(long, value_parser = parse_duration)]
    pub step: Option<std::time::Duration>,
    /// The rate --find-rate starts doubling from (default `[load] start-rate`, else 10/s).
    #[arg(long)]
    pub start_rate: Option<f64>,
    #[arg(long, short)]
    pub quiet: bool,
}

impl From<LoadArgs> for gauntlet::pipeline::LoadOptions {
    fn from(a: LoadArgs) -> Self {
        gauntlet::pipeline::LoadOptions {
            config: a.config,
            lane: a.lane,
            out: a.out,
            quiet: a.quiet,
            rate: a.rate,
            duration: a.duration,
            arrivals: a.arrivals,
            max_in_flight: a.max_in_flight,
            seed: a.seed,
            partition: a.partition,
            find_rate: a.find_rate,
            max_p99: a.max_p99,
            max_error_rate: a.max_error_rate,
            step: a.step,
            start_rate: a.start_rate,
        }
    }
}

#[derive(clap::Args)]
pub struct AttackArgs {
    #[arg(long, default_value = "gauntlet.toml")]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value = "full")]
    pub lane: Lane,
    /// Variants per original, at most (the attacker's queries).
    #[arg(long, default_value_t = 50)]
    pub budget: usize,
    /// Seed of the search; the same seed and answers give the same search.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// guided ranks variants by the target's score; random ignores it;
    /// auto is guided wherever the target returns a score.
    #[arg(long, value_enum, default_value = "auto")]
    pub strategy: gauntlet::attack::Strategy,
    /// Share of an original's letters and digits the edits may change.
    #[arg(long, default_value_t = gauntlet::attack::DEFAULT_MAX_EDIT_SHARE)]
    pub max_edit_share: f64,
    /// Continue a search that was cut off, from its journal (.gauntlet/attack-<lane>.jsonl).
    #[arg(long)]
    pub resume: bool,
    /// Print the most requests the search can send, and send none.
    #[arg(long)]
    pub dry_run: bool,
    /// Write attack.json, attack.html and evasions.jsonl here instead of the config's reports folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, short)]
    pub quiet: bool,
}

impl From<&AttackArgs> for gauntlet::pipeline::AttackOptions {
    fn from(a: &AttackArgs) -> Self {
        gauntlet::pipeline::AttackOptions {
            config: a.config.clone(),
            lane: a.lane,
            out: a.out.clone(),
            quiet: a.quiet,
            budget: a.budget,
            seed: a.seed,
            strategy: a.strategy,
            max_edit_share: a.max_edit_share,
            resume: a.resume,
        }
    }
}
