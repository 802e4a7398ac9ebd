//! `gauntlet check`: everything a run would read, linted without a replay.
//!
//! A pull request's first step, so it must be quick and say everything at
//! once: the config, every corpus against its manifest, the gates' `where`
//! against the loaded cases, the waivers (audited as of today), fixture refs,
//! whether the reports folder could be written, and one health probe of the
//! target unless `--offline`. Nothing is replayed and nothing is written.
//! Configuration and input problems exit 2; a target that does not answer
//! the probe, when all else is fine, exits 3; warnings never change the code.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;

use super::plan::{plan, Plan};
use crate::config::{load_waivers, Config};
use crate::errors::{Code, Diagnostic, Error};
use crate::evaluate::{audit_waivers_only, check_waiver_rules, Waiver, WaiverStatus};

/// What `gauntlet check` was asked to do.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub config: PathBuf,
    /// Skip the target's health probe (no process started, no request sent).
    pub offline: bool,
    /// The date waivers are judged against.
    pub today: Option<NaiveDate>,
    pub quiet: bool,
}

/// What a passing check found.
#[derive(Debug)]
pub struct CheckReport {
    pub cases: usize,
    pub corpus_files: usize,
    pub datasets: usize,
    pub gates: usize,
    pub fixture_suites: usize,
    pub waivers: usize,
    pub reports_dir: PathBuf,
    /// The target probe: how long it took, or why it was skipped.
    pub probe: ProbeResult,
    /// Suspicious but not wrong; printed, never an exit code.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug)]
pub enum ProbeResult {
    Answered { millis: u128 },
    Skipped(&'static str),
}

/// Lints the project at `opts.config`. `Err(Error::Input)` holds every
/// problem found; `Err(Error::Target)` means only the probe failed.
pub fn check(opts: &CheckOptions) -> Result<CheckReport, Error> {
    let today = super::resolve_today(opts.today)?;
    let config = Config::load(&opts.config)?;
    let mut problems = Vec::new();
    if let Err(e) = crate::atomic_file::could_write(&config.reports) {
        problems.push(config.key_location(&["run", "reports"]).diagnostic(
            Code::UnwritableReports,
            format!("`reports` = {}: reports could not be written there: {e}", config.reports.display()),
        ));
    }
    let planned = match plan(&opts.config, opts.quiet) {
        Ok(p) => Some(p),
        Err(Error::Input(mut found)) => {
            problems.append(&mut found);
            None
        }
        Err(e) => return Err(e),
    };
    let Some(Plan { config, gates, corpus, target, fixtures, waivers, mut warnings }) = planned else {
        // Waiver dates still count; which gates exist is not known for sure.
        let waivers = load_waivers(&config.waivers, &mut Vec::new());
        let no_rule_problems = vec![Vec::new(); waivers.len()];
        judge_waivers(&waivers, &no_rule_problems, today, &config, &mut problems, &mut Vec::new());
        return Err(Error::Input(problems));
    };
    if let Some(transforms) = &config.transforms {
        problems.extend(crate::transform::check_ids(&corpus.cases));
        if !transforms.lanes.is_empty() {
            problems.extend(crate::transform::variants_already_in_corpus(&corpus.cases, &transforms.plan));
        }
    }
    let (gate_ids, case_ids) = super::waivers::waivable_ids_of(&config, &gates, &fixtures);
    let refs: Vec<&str> = gate_ids.iter().map(String::as_str).collect();
    let rule_problems = check_waiver_rules(&waivers, today, &config.waiver_policy, &refs, &case_ids);
    for rules in &rule_problems {
        problems.extend(rules.iter().cloned());
    }
    judge_waivers(&waivers, &rule_problems, today, &config, &mut problems, &mut warnings);
    super::release::load_project_sign_offs(&config, today, &mut problems);
    problems.extend(super::release::unknown_stage_gates(&config, &gate_ids));
    if let Err(Error::Input(unsendable)) = super::plan::check_sendable(target.as_ref(), &corpus.cases) {
        problems.extend(unsendable);
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let probe = if opts.offline {
        ProbeResult::Skipped("--offline")
    } else if !config.target.health_probe.unwrap_or(true) {
        ProbeResult::Skipped("health-probe = false")
    } else {
        let started = Instant::now();
        target.probe(&crate::targets::probe_case(&corpus.cases), &())?;
        let millis = started.elapsed().as_millis();
        if let Some((block, allow)) = config.target.canary_texts() {
            crate::targets::canary::check(target.as_ref(), &block, &allow, &())?;
        }
        ProbeResult::Answered { millis }
    };
    Ok(CheckReport {
        cases: corpus.cases.len(),
        corpus_files: corpus.summary.files.len(),
        datasets: corpus.summary.datasets.len(),
        gates: gates.len(),
        fixture_suites: fixtures.len(),
        waivers: waivers.len(),
        reports_dir: config.reports.clone(),
        probe,
        warnings,
    })
}

/// An expired waiver is an error at its `expires` line, one expiring soon a
/// warning there.
fn judge_waivers(
    waivers: &[Waiver],
    rule_problems: &[Vec<Diagnostic>],
    today: NaiveDate,
    config: &Config,
    problems: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) {
    let audit = audit_waivers_only(waivers, rule_problems, today, &config.waiver_policy);
    for (waiver, report) in waivers.iter().zip(&audit) {
        let expires = fmt_date(waiver.expires);
        match report.status {
            WaiverStatus::Expired => problems.push(waiver.diagnostic(
                "expires",
                Code::ExpiredWaiver,
                format!("waiver `{}` expired on {expires} (today is {today})", waiver.id),
            )),
            WaiverStatus::ExpiringSoon => warnings.push(waiver.diagnostic(
                "expires",
                Code::ExpiringWaiver,
                format!(
                    "waiver `{}` expires on {expires}, in {} day(s)",
                    waiver.id,
                    report.days_remaining.unwrap_or(0)
                ),
            )),
            _ => {}
        }
    }
}

fn fmt_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

impl CheckReport {
    /// The one-paragraph summary printed on success.
    pub fn summary(&self, config: &Path) -> String {
        let probe = match &self.probe {
            ProbeResult::Answered { millis } => format!("target answered the health probe in {millis} ms"),
            ProbeResult::Skipped(why) => format!("target not probed ({why})"),
        };
        format!(
            "{}: ok — {} cases in {} file(s) of {} dataset(s), {} gate(s), {} fixture suite(s), {} waiver(s); reports folder {} writable; {probe}",
            config.display(),
            self.cases,
            self.corpus_files,
            self.datasets,
            self.gates,
            self.fixture_suites,
            self.waivers,
            self.reports_dir.display(),
        )
    }
}
