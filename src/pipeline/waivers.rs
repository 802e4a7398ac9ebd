//! `gauntlet waivers audit` and `gauntlet waivers new`: the waiver checks
//! without a replay.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::write_json;
use crate::atomic_file::write_bytes;
use crate::config::{load_fixtures, load_gates, load_waivers, Config};
use crate::errors::{Diagnostic, Error};
use crate::evaluate::{audit_waivers_only, check_waiver_rules, FixtureSuite, Gate};
use crate::report::WaiverAudit;

/// Gate ids and fixture case ids a waiver may name, known without a run.
pub(super) fn waivable_ids(config: &Config, problems: &mut Vec<Diagnostic>) -> (Vec<String>, Vec<String>) {
    let gates = load_gates(&config.gates, problems);
    let suites = load_fixtures(&config.fixtures, problems);
    waivable_ids_of(config, &gates, &suites)
}

/// `waivable_ids` from gates and fixture suites already loaded.
pub(super) fn waivable_ids_of(config: &Config, gates: &[Gate], suites: &[FixtureSuite]) -> (Vec<String>, Vec<String>) {
    let mut gate_ids: Vec<String> = gates.iter().map(|g| g.id.clone()).collect();
    gate_ids.extend(suites.iter().map(|s| format!("fixtures:{}", s.name)));
    if let Ok(entries) = std::fs::read_dir(config.fixtures.join("golden")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".snap") {
                gate_ids.push(format!("golden:{stem}"));
            }
        }
    }
    let case_ids = suites.iter().flat_map(|s| s.cases.iter().map(move |c| format!("{}::{}", s.name, c.name))).collect();
    (gate_ids, case_ids)
}

/// `gauntlet waivers audit`: the waiver checks alone (no replay), written to
/// `waiver-audit.json`. Unused waivers need a run to be seen.
pub fn audit_waivers(
    config_path: &Path,
    today: Option<NaiveDate>,
    out_dir: Option<&Path>,
) -> Result<WaiverAudit, Error> {
    let today = super::resolve_today(today)?;
    let config = Config::load(config_path)?;
    let mut problems = Vec::new();
    let waivers = load_waivers(&config.waivers, &mut problems);
    let (gate_ids, case_ids) = waivable_ids(&config, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let refs: Vec<&str> = gate_ids.iter().map(String::as_str).collect();
    let rule_problems = check_waiver_rules(&waivers, today, &config.waiver_policy, &refs, &case_ids);
    let reports = audit_waivers_only(&waivers, &rule_problems, today, &config.waiver_policy);
    let audit = WaiverAudit::new(today.format("%Y-%m-%d").to_string(), None, reports);
    let dir = out_dir.map(Path::to_path_buf).unwrap_or_else(|| config.reports.clone());
    write_json(&dir.join("waiver-audit.json"), &audit)?;
    Ok(audit)
}

/// What `gauntlet waivers new` appends.
pub struct NewWaiver {
    pub gate: String,
    pub days: i64,
    pub owner: String,
    pub tracking: String,
    pub reason: String,
    pub scope: String,
    pub remove_when: String,
    pub id: Option<String>,
}

/// Appends a valid waiver to `waivers/waivers.toml`; refuses (exit 2) when the
/// result would not pass the waiver rules.
pub fn new_waiver(config_path: &Path, today: Option<NaiveDate>, w: &NewWaiver) -> Result<PathBuf, Error> {
    let today = super::resolve_today(today)?;
    let config = Config::load(config_path)?;
    if w.days < 1 || w.days > config.waiver_policy.max_days {
        return Err(Error::Usage(format!(
            "--days must be 1 to {} (the project's limit)",
            config.waiver_policy.max_days
        )));
    }
    let file = config.waivers.join("waivers.toml");
    let existing = std::fs::read_to_string(&file).unwrap_or_default();
    let expires = today + chrono::Days::new(w.days as u64);
    let id = w.id.clone().unwrap_or_else(|| format!("{}-{}", w.gate, today.format("%Y%m%d")));
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let entry = format!(
        "\n[[waiver]]\nid = {}\ngate = {}\nowner = {}\ncreated = \"{}\"\nexpires = \"{}\"\ntracking = {}\nreason = {}\nscope = {}\nremove-when = {}\n",
        q(&id), q(&w.gate), q(&w.owner), today.format("%Y-%m-%d"), expires.format("%Y-%m-%d"), q(&w.tracking), q(&w.reason), q(&w.scope), q(&w.remove_when)
    );
    let text = format!("{existing}{entry}");
    let waivers = crate::config::parse_waivers(&file, &text).map_err(Error::from)?;
    let mut problems = Vec::new();
    let (gate_ids, case_ids) = waivable_ids(&config, &mut problems);
    let refs: Vec<&str> = gate_ids.iter().map(String::as_str).collect();
    // A gate that does not exist is the --gate flag's mistake: the file
    // line it would be reported at was never written.
    if !w.gate.is_empty() && !gate_ids.contains(&w.gate) {
        return Err(Error::Usage(format!(
            "--gate `{}`: no such gate; gates that can be waived: {}",
            w.gate,
            gate_ids.join(", ")
        )));
    }
    let rule_problems = check_waiver_rules(&waivers, today, &config.waiver_policy, &refs, &case_ids);
    let last = rule_problems.last().cloned().unwrap_or_default();
    if !last.is_empty() {
        return Err(Error::Input(last));
    }
    write_bytes(&file, text.as_bytes())?;
    Ok(file)
}
