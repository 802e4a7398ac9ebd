//! The commands, each a short function that wires the stages:
//! corpus → target → replay → metrics → evaluate → report.
//!
//! This is the layer that touches files, processes and the clock. Every
//! stage it calls is usable on its own; the steps several commands share
//! (planning, judging, writing) live in `plan`, `judge` and `write`, so a
//! merged or re-rendered run goes through exactly the code a plain run does.

mod attack;
mod calibrate;
mod check;
mod datasets;
mod diff;
mod drift;
mod expand;
mod golden;
mod judge;
mod load;
mod merge;
mod plan;
mod progress;
mod release;
mod report;
mod run;
mod waivers;

use std::path::Path;

use chrono::NaiveDate;

pub use crate::targets::RequestPlan;
pub use attack::{attack, attack_dry_run, AttackOptions, AttackPlan};
pub use calibrate::{calibrate, CalibrateOptions};
pub use check::{check, CheckOptions, CheckReport, ProbeResult};
pub use datasets::{add_dataset, fetch_datasets, list_datasets};
pub use diff::{diff, DiffOptions};
pub use drift::{drift, Drift};
pub use expand::{default_expand_path, expand};
pub use judge::{judge, History, Judging, ReplayFacts};
pub use load::{load, merge_load, LoadOptions};
pub use merge::merge;
pub use plan::{plan, Plan};
pub use release::{prometheus_rules, release, ReleaseOptions};
pub use report::report_from;
pub use run::dry_run;
pub use run::{bless, run, RunOptions, RunOutput};
pub use waivers::{audit_waivers, new_waiver, NewWaiver};

use crate::atomic_file::write_bytes;
use crate::errors::Error;

/// The JSON Schema of one output format (`gauntlet schema`; copies in docs/schema/).
pub fn schema(kind: crate::report::SchemaKind) -> serde_json::Value {
    use crate::report::{open_schema, verdict_schema, waiver_audit_schema, SchemaKind};
    match kind {
        SchemaKind::Verdict => verdict_schema(),
        SchemaKind::WaiverAudit => waiver_audit_schema(),
        SchemaKind::Calibration => open_schema(schemars::schema_for!(crate::calibrate::Calibration)),
        SchemaKind::Release => open_schema(schemars::schema_for!(crate::release::ReleaseReport)),
        SchemaKind::Diff => open_schema(crate::compare::diff_schema()),
        SchemaKind::Load => open_schema(schemars::schema_for!(crate::load::LoadReport)),
        SchemaKind::Attack => open_schema(schemars::schema_for!(crate::attack::AttackReport)),
    }
}

/// The date waivers and evidence ages are judged against.
pub fn resolve_today(explicit: Option<NaiveDate>) -> Result<NaiveDate, Error> {
    if let Some(d) = explicit {
        return Ok(d);
    }
    match std::env::var("GAUNTLET_TODAY") {
        Ok(s) if !s.is_empty() => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|_| Error::Usage(format!("GAUNTLET_TODAY=`{s}` is not a YYYY-MM-DD date"))),
        _ => Ok(chrono::Local::now().date_naive()),
    }
}

fn git_commit(dir: &Path) -> Option<String> {
    if let Ok(sha) = std::env::var("GITHUB_SHA") {
        return Some(sha);
    }
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).current_dir(dir).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Pretty JSON with a trailing newline, written atomically.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Error> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("report serialises");
    bytes.push(b'\n');
    write_bytes(path, &bytes)
}

/// The reports folder must be writable before any case is replayed; the
/// error names the `reports` key (or `--out`) rather than a file written late.
/// An output file named by `--out`, checked before any work: its folder
/// must take a file (it is written to a temporary file there, then
/// renamed). A bad path is a usage error naming the option (exit 2), not a
/// failure after the work is done.
fn check_out_file(path: &Path) -> Result<(), Error> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let problem = if path.is_dir() {
        Some("it is a folder; name a file".to_string())
    } else {
        crate::atomic_file::check_writable(folder).err().map(|e| e.to_string())
    };
    match problem {
        Some(why) => Err(Error::Usage(format!("--out {}: cannot write there: {why}", path.display()))),
        None => Ok(()),
    }
}

fn check_reports_dir(dir: &Path, from_flag: bool, config: &crate::config::Config) -> Result<(), Error> {
    match crate::atomic_file::check_writable(dir) {
        Ok(()) => Ok(()),
        Err(e) if from_flag => Err(Error::Usage(format!("--out {}: cannot write reports there: {e}", dir.display()))),
        Err(e) => Err(config
            .key_location(&["run", "reports"])
            .diagnostic(
                crate::errors::Code::UnwritableReports,
                format!("`reports` = {}: cannot write reports there: {e}", dir.display()),
            )
            .into()),
    }
}
