//! The `gauntlet` command line: parses arguments, calls the library, prints,
//! and turns the library's outcome into the exit code. Nothing else lives
//! here: every rule (what fails a build, how a target is built) is the library's.

use std::process::ExitCode;

use clap::Parser;

use cli_args::{Cli, Command, CorpusCommand, FixturesCommand, OutputFormat, TargetCommand, WaiversCommand};
use gauntlet::evaluate::status_name;
use gauntlet::exit_code::Outcome;
use gauntlet::pipeline::{self, RunOptions};
use gauntlet::report::github::{Annotation, Shield};
use gauntlet::serve::Judge;
use gauntlet::text::terminal_safe;
use gauntlet::Error;

mod cli_args;

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

mod cli_output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let github = cli.command.github_format();
    // Under GitHub Actions everything printed goes inside a stop-commands
    // block: case texts and messages are hostile.
    let shield = Shield::from_env().filter(|_| cli.command.prints_for_people());
    if let Some(s) = &shield {
        out!("{}", s.begin());
    }
    let mut annotations = Vec::new();
    let code = match execute(cli, &mut annotations) {
        Ok(outcome) => outcome.code(),
        Err(e) => {
            eprintln!("{e:#}");
            let err = e.downcast_ref::<Error>();
            if github {
                annotations.extend(cli_output::error_annotations(err));
            }
            err.map_or(Outcome::TargetError.code(), Error::exit_code)
        }
    };
    cli_output::finish(shield, &annotations);
    ExitCode::from(code as u8)
}

fn execute(cli: Cli, annotations: &mut Vec<Annotation>) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Calibrate { config, from, decision_log, baseline, target_fpr, bound, tolerance, out, quiet } => {
            if target_fpr.iter().any(|f| !(0.0..1.0).contains(f)) {
                return Err(Error::Usage("--target-fpr values are fractions in [0, 1)".into()).into());
            }
            let c = pipeline::calibrate(&pipeline::CalibrateOptions {
                config,
                from,
                decision_log,
                baseline,
                target_fprs: target_fpr,
                bound,
                tolerance,
                out_dir: out,
                quiet,
            })?;
            out!("{}", terminal_safe(&c.recommendation).replace("\\u{a}", "\n"));
            if let Some(b) = &c.baseline {
                out!("baseline: regression {}", if b.regression_detected { "DETECTED" } else { "not detected" });
            }
            Ok(c.outcome())
        }
        Command::Load(args) => Ok(cli_output::print_load(&pipeline::load(&args.into())?)),
        Command::Attack(args) => cli_output::attack(&args),
        Command::Release { config, version, decision_log, deployed_at, stage, stage_started_at, today, out, quiet } => {
            let r = pipeline::release(&pipeline::ReleaseOptions {
                config,
                version,
                decision_logs: decision_log,
                deployed_at,
                stage,
                stage_started_at,
                today,
                out_dir: out,
                quiet,
            })?;
            Ok(cli_output::print_release(&r))
        }
        Command::Check { config, format, offline, today, quiet } => {
            let report = pipeline::check(&pipeline::CheckOptions { config: config.clone(), offline, today, quiet })?;
            for w in &report.warnings {
                eprintln!("{}", terminal_safe(&w.as_warning()));
            }
            if format == OutputFormat::Github {
                annotations.extend(cli_output::warning_annotations(&report.warnings));
            }
            out!("{}", terminal_safe(&report.summary(&config)));
            Ok(Outcome::Pass)
        }
        Command::Corpus { command: CorpusCommand::Fetch { config, quiet } } => {
            for line in pipeline::fetch_datasets(&config, quiet)? {
                out!("{line}");
            }
            Ok(Outcome::Pass)
        }
        Command::Corpus { command: CorpusCommand::Add { name, config } } => {
            let path = pipeline::add_dataset(&config, &name)?;
            out!("wrote {}; next: gauntlet corpus fetch", path.display());
            Ok(Outcome::Pass)
        }
        Command::Corpus { command: CorpusCommand::List } => {
            out_raw!("{}", pipeline::list_datasets());
            Ok(Outcome::Pass)
        }
        Command::Corpus { command: CorpusCommand::Expand { config, lane, out } } => {
            let out = out.unwrap_or_else(|| pipeline::default_expand_path(&config));
            let n = pipeline::expand(&config, lane, &out)?;
            out!("wrote {n} variants to {}", out.display());
            Ok(Outcome::Pass)
        }
        Command::Diff { a, b, tolerance, out } => {
            let d = pipeline::diff(&pipeline::DiffOptions { a, b, tolerance, out_dir: out.clone() })?;
            out_raw!("{}", gauntlet::compare::render_terminal(&d));
            out!("diff: {}", out.join("diff.md").display());
            Ok(gauntlet::exit_code::Outcome::failed_if(!d.regressions.is_empty()))
        }
        Command::Init { dir, target } => {
            for f in gauntlet::init::init(&dir, target)? {
                out!("wrote {}", f.display());
            }
            out!("next: cd {} && gauntlet run", dir.display());
            Ok(Outcome::Pass)
        }
        Command::Merge { shards, config, format, out, today, quiet, history } => {
            // Runners of `gauntlet load --partition` leave load.json, not a verdict.
            if shards.iter().all(|d| d.join("load.json").is_file() && !d.join("verdict.json").exists()) {
                return Ok(cli_output::print_load(&pipeline::merge_load(&shards, &config, out.as_deref())?));
            }
            let output = pipeline::merge(&shards, &config, out.as_deref(), today, &history.into(), quiet)?;
            if format == OutputFormat::Github {
                annotations.extend(cli_output::run_annotations(&output, &config));
            }
            Ok(cli_output::print_run(&output, quiet))
        }
        Command::Run {
            config,
            format,
            out,
            lane,
            quiet,
            today,
            repeat,
            check_determinism,
            dry_run,
            resume,
            partition,
            history,
        } => {
            let opts = RunOptions {
                out_dir: out,
                lane,
                quiet,
                today,
                repeat,
                check_determinism,
                partition,
                history: history.into(),
                resume,
                ..RunOptions::new(config)
            };
            if dry_run {
                out!("{}", pipeline::dry_run(&opts)?.render().trim_end());
                return Ok(Outcome::Pass);
            }
            let output = pipeline::run(&opts)?;
            if format == OutputFormat::Github {
                annotations.extend(cli_output::run_annotations(&output, &opts.config));
            }
            Ok(cli_output::print_run(&output, quiet))
        }
        Command::Alerts { config, format: cli_args::AlertsFormat::Prometheus, out } => {
            if let Some(rules) = pipeline::prometheus_rules(&config, out.as_deref())? {
                out_raw!("{rules}");
            }
            Ok(Outcome::Pass)
        }
        command @ (Command::Completions { .. } | Command::Man) => cli_output::generated(&command),
        Command::Schema { which } => {
            out!("{}", serde_json::to_string_pretty(&pipeline::schema(which))?);
            Ok(Outcome::Pass)
        }
        Command::Target { command: TargetCommand::Serve { stdio, http, always, rules, threshold, system_prompt } } => {
            let judge = Judge::new(always, rules, threshold, system_prompt)?;
            match (stdio, http) {
                (true, _) => gauntlet::serve::serve_stdio(&judge)?,
                (false, Some(addr)) => gauntlet::serve::serve_http(std::sync::Arc::new(judge), &addr)?,
                (false, None) => return Err(Error::Usage("choose --stdio or --http ADDR".into()).into()),
            }
            Ok(Outcome::Pass)
        }
        Command::Report { from, results, out } => {
            let (verdict, drift) = pipeline::report_from(&from, results.as_deref(), out.as_deref())?;
            for d in &drift {
                eprintln!("warning: the project changed since this verdict: {d}");
            }
            out!("re-rendered reports for a {} verdict", verdict.verdict.as_str());
            Ok(Outcome::Pass)
        }
        Command::Fixtures { command: FixturesCommand::Bless { config } } => {
            for g in &pipeline::bless(config)?.verdict.golden {
                out!("{}: {:?}", terminal_safe(&g.path), g.status);
            }
            Ok(Outcome::Pass)
        }
        Command::Waivers { command: WaiversCommand::Audit { config, today, out } } => {
            let audit = pipeline::audit_waivers(&config, today, out.as_deref())?;
            for w in &audit.waivers {
                out!("{:<14} {}  {}", status_name(w.status), terminal_safe(&w.id), terminal_safe(&w.detail.join("; ")));
            }
            let outcome = audit.outcome();
            out!("{} waiver(s); {}", audit.waivers.len(), if outcome == Outcome::Pass { "ok" } else { "FAIL" });
            Ok(outcome)
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
            Ok(Outcome::Pass)
        }
    }
}
