//! What the command line prints around a run: the gate table, and the
//! GitHub annotations and stop-commands block (`--format github`,
//! `GITHUB_ACTIONS`). The library builds both; this only prints them.

use std::io::Write as _;
use std::path::Path;

use gauntlet::errors::Diagnostic;
use gauntlet::exit_code::Outcome;
use gauntlet::pipeline::RunOutput;
use gauntlet::report::github::{self, Annotation, Level, Shield};
use gauntlet::report::terminal;
use gauntlet::text::terminal_safe;
use gauntlet::Error;

/// Input warnings (stderr), the gate table and the verdict line, always: a
/// failing CI log must show why. `--quiet` drops only progress and the
/// reports line.
pub fn print_run(output: &RunOutput, quiet: bool) -> Outcome {
    for w in &output.verdict.warnings {
        eprintln!("{}", terminal_safe(w));
    }
    out_raw!("{}", terminal::render(&output.verdict));
    if !quiet {
        out!("reports: {}", output.reports_dir.display());
    }
    output.verdict.outcome()
}

/// GO, NO-GO or ROLLBACK, and each blocking reason with its evidence.
pub fn print_release(r: &gauntlet::release::ReleaseReport) -> Outcome {
    out!("{}", r.decision);
    for b in &r.blocking {
        out!("  {}: {} (evidence: {})", terminal_safe(&b.check), terminal_safe(&b.message), terminal_safe(&b.evidence));
    }
    r.outcome()
}

/// The load run's table, gates and fail-open finding.
pub fn print_load(r: &gauntlet::load::LoadReport) -> Outcome {
    out_raw!("{}", gauntlet::report::load::render_terminal(r));
    r.outcome()
}

/// `gauntlet attack`: the plan with --dry-run, else the search's summary.
pub fn attack(args: &crate::cli_args::AttackArgs) -> anyhow::Result<Outcome> {
    let opts = args.into();
    if args.dry_run {
        let p = gauntlet::pipeline::attack_dry_run(&opts)?;
        out!(
            "attack plan: at most {} requests: {} originals at rest, at most {} variants each, one confirmation per evasion, {} probe request(s){}",
            p.max_requests,
            p.originals,
            p.budget,
            p.probes,
            p.cost_per_request.map_or(String::new(), |c| format!("; at most {:.4} in cost", c * p.max_requests as f64))
        );
        return Ok(Outcome::Pass);
    }
    let r = gauntlet::pipeline::attack(&opts)?;
    out_raw!("{}", gauntlet::report::attack::render_terminal(&r));
    Ok(r.outcome())
}

/// `gauntlet completions <shell>` and `gauntlet man`: generated from the
/// parser's own definitions, written to stdout as they are.
pub fn generated(command: &crate::cli_args::Command) -> anyhow::Result<Outcome> {
    use clap::CommandFactory;
    let mut cli = crate::cli_args::Cli::command();
    let mut stdout = std::io::stdout().lock();
    match command {
        crate::cli_args::Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut cli, "gauntlet", &mut stdout);
        }
        _ => clap_mangen::Man::new(cli).render(&mut stdout)?,
    }
    stdout.flush()?;
    Ok(Outcome::Pass)
}

fn config_dir(config: &Path) -> &Path {
    config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// A finished run's gate and waiver annotations.
pub fn run_annotations(output: &RunOutput, config: &Path) -> Vec<Annotation> {
    let base = config_dir(config);
    github::run_annotations(&output.verdict, base, &github::repository_root(base))
}

/// `check`'s warnings (an expiring waiver, say) at their lines.
pub fn warning_annotations(warnings: &[Diagnostic]) -> Vec<Annotation> {
    github::diagnostic_annotations(warnings, Level::Warning, &github::repository_root(Path::new(".")))
}

/// An input error's problems at their file:line:column; other failures as
/// one annotation without a place.
pub fn error_annotations(err: Option<&Error>) -> Vec<Annotation> {
    let root = github::repository_root(Path::new("."));
    match err {
        Some(Error::Input(diagnostics)) => github::diagnostic_annotations(diagnostics, Level::Error, &root),
        other => vec![Annotation {
            level: Level::Error,
            file: None,
            line: None,
            column: None,
            title: "gauntlet".into(),
            message: other.map_or_else(|| "gauntlet failed".into(), |e| e.to_string()),
        }],
    }
}

/// Closes the stop-commands block, then prints the annotations, which must
/// be outside it for GitHub to read them.
pub fn finish(shield: Option<Shield>, annotations: &[Annotation]) {
    let _ = std::io::stderr().flush();
    if let Some(s) = &shield {
        out!("{}", s.end());
    }
    for a in annotations {
        out!("{}", a.render());
    }
    let _ = std::io::stdout().flush();
}
