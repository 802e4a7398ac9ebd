//! `gauntlet release`: reads every piece of evidence, then lets the pure
//! checks in `release` decide GO / NO-GO.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::progress::{total_bytes, with_progress, Step};
use super::write_json;
use crate::atomic_file::write_bytes;
use crate::calibrate::Calibration;
use crate::config::Config;
use crate::errors::{Code, Diagnostic, Error};
use crate::hashing::sha256_hex;
use crate::release::promotion::{resume_checks, stage_check};
use crate::release::{
    burn_alerts, canary_check, logs, Blockers, Evidence, ReleaseReport, VerdictFacts, RELEASE_SCHEMA,
};
use crate::report::Verdict;

/// What `gauntlet release` was asked to do.
pub struct ReleaseOptions {
    pub config: PathBuf,
    pub version: Option<String>,
    /// Log paths, optionally prefixed `canary:` or `baseline:`; unprefixed
    /// lines are canary when their `policy-version` equals `version`.
    pub decision_logs: Vec<String>,
    /// When the bundle under release was deployed (RFC 3339): its age picks
    /// the rollback-matrix row.
    pub deployed_at: Option<String>,
    /// The promotion stage the bundle is in: GO promotes it to the next.
    pub stage: Option<String>,
    /// When that stage began (RFC 3339; default `deployed_at`).
    pub stage_started_at: Option<String>,
    pub today: Option<NaiveDate>,
    pub out_dir: Option<PathBuf>,
    /// No progress lines.
    pub quiet: bool,
}

fn file_evidence(id: &str, path: &Path, summary: String, produced_at: Option<&str>) -> Evidence {
    let bytes = std::fs::read(path).ok();
    let age_hours = produced_at
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_minutes() as f64 / 60.0)
        .or_else(|| {
            let modified = std::fs::metadata(path).ok()?.modified().ok()?;
            Some(modified.elapsed().ok()?.as_secs_f64() / 3600.0)
        })
        .map(|h| (h * 10.0).round() / 10.0);
    Evidence {
        id: id.into(),
        path: path.display().to_string(),
        sha256: bytes.as_deref().map(sha256_hex),
        age_hours,
        summary,
    }
}

/// The verdict's facts the release checks need, compared with the project
/// as it is now.
fn verdict_facts(v: &Verdict, age_hours: Option<f64>, config: &Config) -> VerdictFacts {
    VerdictFacts {
        lane: v.run.lane,
        overall: v.verdict,
        failing_blocking: v
            .gates
            .iter()
            .filter(|g| g.blocking && g.status.is_failing())
            .map(|g| g.id.clone())
            .collect(),
        age_hours,
        stale: super::drift(&v.run.hashes, config).iter().map(|d| d.to_string()).collect(),
        fixture_gates: v
            .gates
            .iter()
            .filter(|g| g.id.starts_with("fixtures:") || g.id.starts_with("golden:"))
            .map(|g| (g.id.clone(), g.status, g.detail.lines().next().unwrap_or("").to_string()))
            .collect(),
        gates: v.gates.iter().map(|g| (g.id.clone(), g.status)).collect(),
    }
}

/// GO only when every check passes; every blocking reason names the
/// evidence it rests on.
pub fn release(opts: &ReleaseOptions) -> Result<ReleaseReport, Error> {
    let today = super::resolve_today(opts.today)?;
    let config = Config::load(&opts.config)?;
    let policy = config.release.clone();
    let mut evidence = Vec::new();
    let mut blockers = Blockers::default();

    let verdict_path = config.reports.join("verdict.json");
    // Missing: NO-GO below. Present but unreadable or malformed: exit 2.
    let verdict = if verdict_path.exists() { Some(Verdict::read(&verdict_path)?) } else { None };
    let facts = match &verdict {
        None => {
            evidence.push(file_evidence("verdict", &verdict_path, "missing or unreadable".into(), None));
            None
        }
        Some(v) => {
            let e = file_evidence(
                "verdict",
                &verdict_path,
                format!("{} ({} lane, {} cases)", v.verdict.as_str(), v.run.lane.as_str(), v.corpora.cases),
                Some(&v.run.finished_at),
            );
            let facts = verdict_facts(v, e.age_hours, &config);
            evidence.push(e);
            Some(facts)
        }
    };
    blockers.verdict(facts.as_ref(), policy.max_verdict_age_days);

    let out_dir = opts.out_dir.clone().unwrap_or_else(|| config.reports.clone());
    let audit = super::audit_waivers(&opts.config, Some(today), Some(&out_dir))?;
    evidence.push(file_evidence(
        "waiver-audit",
        &out_dir.join("waiver-audit.json"),
        format!("{} waiver(s) as of {today}", audit.waivers.len()),
        None,
    ));
    blockers.waivers(&audit.waivers);

    let calibration_path = config.reports.join("calibration.json");
    let calibration: Option<Calibration> = match std::fs::read_to_string(&calibration_path) {
        Err(_) if !calibration_path.exists() => None,
        Err(e) => return Err(Diagnostic::new(&calibration_path, Code::UnreadableFile, e.to_string()).into()),
        Ok(text) => Some(serde_json::from_str(&text).map_err(|e| {
            Diagnostic::new(&calibration_path, Code::InvalidCalibration, e.to_string()).at(e.line(), e.column())
        })?),
    };
    match &calibration {
        None => evidence.push(file_evidence("calibration", &calibration_path, "missing".into(), None)),
        Some(c) => {
            let summary = match &c.baseline {
                Some(b) => format!(
                    "baseline {}: regression {}",
                    b.source,
                    if b.regression_detected { "detected" } else { "not detected" }
                ),
                None => "no baseline compared".into(),
            };
            evidence.push(file_evidence("calibration", &calibration_path, summary, Some(&c.generated_at)));
        }
    }
    blockers.calibration(calibration.as_ref());

    let load_path = config.reports.join("load.json");
    if load_path.exists() {
        let text = std::fs::read_to_string(&load_path)
            .map_err(|e| Diagnostic::new(&load_path, Code::UnreadableFile, e.to_string()))?;
        let load: crate::load::LoadReport = serde_json::from_str(&text)
            .map_err(|e| Diagnostic::new(&load_path, Code::InvalidLoad, e.to_string()).at(e.line(), e.column()))?;
        let s = &load.summary;
        let e = file_evidence(
            "load",
            &load_path,
            format!(
                "{:.0}/s: p99 {} corrected, {} fail-open, {:.2}% errors",
                s.rate.asked,
                crate::load::show_us(s.latency.p99),
                load.fail_open.count,
                s.requests.error_rate * 100.0
            ),
            Some(&load.generated_at),
        );
        let facts = crate::release::LoadEvidence::of(&load, e.age_hours);
        evidence.push(e);
        blockers.load(
            Some(&facts),
            policy.max_verdict_age_days,
            verdict.as_ref().map(|v| v.run.hashes.target.as_str()),
        );
    }

    let attack_path = config.reports.join("attack.json");
    if attack_path.exists() {
        let text = std::fs::read_to_string(&attack_path)
            .map_err(|e| Diagnostic::new(&attack_path, Code::UnreadableFile, e.to_string()))?;
        let attack: crate::attack::AttackReport = serde_json::from_str(&text)
            .map_err(|e| Diagnostic::new(&attack_path, Code::InvalidAttack, e.to_string()).at(e.line(), e.column()))?;
        let at_budget = attack.curve.last();
        let e = file_evidence(
            "attack",
            &attack_path,
            format!(
                "{} of {} blocked originals evaded within {} queries ({})",
                attack.evaded,
                attack.originals.searched,
                attack.budget,
                at_budget.and_then(|p| p.rate).map_or("–".into(), |r| format!("{:.1}%", r * 100.0))
            ),
            Some(&attack.generated_at),
        );
        let facts = crate::release::AttackEvidence::of(&attack, e.age_hours);
        evidence.push(e);
        blockers.attack(
            Some(&facts),
            policy.max_verdict_age_days,
            verdict.as_ref().map(|v| v.run.hashes.target.as_str()),
        );
    }

    // Sign-offs are small and hand-written: a mistake in one fails before
    // minutes of decision logs are read.
    let mut sign_off_problems = Vec::new();
    let sign_offs = load_project_sign_offs(&config, today, &mut sign_off_problems);
    // A stage requiring a gate that does not exist is a typo in the
    // config, as `check` says, not a NO-GO.
    if !config.release.promotion.stages.is_empty() {
        let (gate_ids, _) = super::waivers::waivable_ids(&config, &mut sign_off_problems);
        sign_off_problems.extend(unknown_stage_gates(&config, &gate_ids));
    }
    if !sign_off_problems.is_empty() {
        return Err(Error::Input(sign_off_problems));
    }

    let mut entries = Vec::new();
    let mut names = crate::release::logs::Names::default();
    let mut problems = Vec::new();
    let mut seen_logs: Vec<(String, String)> = Vec::new();
    for (i, spec) in opts.decision_logs.iter().enumerate() {
        let (population, path) = match spec.split_once(':') {
            Some(("canary", p)) => (logs::Population::Canary, p),
            Some(("baseline", p)) => (logs::Population::Baseline, p),
            _ => (
                opts.version.clone().map(logs::Population::ByVersion).unwrap_or(logs::Population::Canary),
                spec.as_str(),
            ),
        };
        let step = Step::bytes("reading decision log", total_bytes(&[PathBuf::from(path)]));
        // Evidence is read here, at the edge; release parses and judges it.
        let bytes =
            std::fs::read(path).map_err(|e| Diagnostic::new(Path::new(path), Code::UnreadableFile, e.to_string()))?;
        // The same log twice (or a copy of it) would count every decision
        // twice: halve the error bars, double the volume guards.
        let digest = sha256_hex(&bytes);
        if let Some(first) = seen_logs.iter().find(|(d, _)| *d == digest).map(|(_, p)| p) {
            let message = format!(
                "this decision log has the same bytes as {first}, given before: its decisions would count twice"
            );
            return Err(Diagnostic::new(Path::new(path), Code::DuplicateLog, message).into());
        }
        seen_logs.push((digest, path.to_string()));
        let (mut e, mut bad) = with_progress(step, opts.quiet, |progress| {
            logs::parse_log(Path::new(path), bytes, &population, &mut names, progress)
        })
        .map_err(Error::from)?;
        evidence.push(file_evidence(
            &format!("decision-log-{}", i + 1),
            Path::new(path),
            format!("{} decisions", e.len()),
            None,
        ));
        entries.append(&mut e);
        problems.append(&mut bad);
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    entries.sort_by_key(|e| e.ts_ms);
    let canary_entries: Vec<logs::Entry> = entries.iter().filter(|e| e.canary).copied().collect();
    let alerts = burn_alerts(&canary_entries, &policy);
    blockers.burn(&alerts);
    let canary = entries.iter().any(|e| !e.canary).then(|| canary_check(&entries, &policy, &config.counting));
    blockers.canary(canary.as_ref());
    let signal_states = crate::release::signals::evaluate(&entries, &names, &policy.signals, &config.counting);
    blockers.signals(&signal_states);
    let rollback = match &opts.deployed_at {
        None => None,
        Some(at) => {
            let deployed = rfc3339_ms("--deployed-at", at)?;
            if let Some(last) = canary_entries.last().filter(|e| e.ts_ms < deployed) {
                // Judging rollback over no decision at all would say nothing.
                return Err(Error::Usage(format!(
                    "--deployed-at {at} is after the last decision of the log ({}): no decision of this bundle to judge",
                    iso(last.ts_ms)
                )));
            }
            Some(crate::release::rollback::rollback_check(&canary_entries, deployed, at, &policy.rollback))
        }
    };
    blockers.rollback(rollback.as_ref());

    let promotion = &policy.promotion;
    evidence.push(Evidence {
        id: "sign-offs".into(),
        path: config.base.join(&promotion.sign_offs).display().to_string(),
        sha256: None,
        age_hours: None,
        summary: format!("{} sign-off record(s)", sign_offs.len()),
    });
    let resumes = resume_checks(&signal_states, &sign_offs, opts.version.as_deref(), promotion.clear_windows);
    blockers.resumes(&resumes);
    // cargo-deny's rule: a record scoped to this release that clears
    // nothing is worth saying (a typo in its rules, or a stale version).
    let unused_sign_offs = sign_offs
        .iter()
        .filter(|o| o.version.is_some() && o.version == opts.version)
        .filter(|o| !resumes.iter().any(|r| r.sign_off.as_ref() == Some(&o.incident)))
        .map(|o| format!("{} ({})", o.incident, o.location))
        .collect();
    let stage = match &opts.stage {
        None => None,
        Some(name) => {
            let Some(index) = promotion.stages.iter().position(|s| &s.name == name) else {
                let names: Vec<&str> = promotion.stages.iter().map(|s| s.name.as_str()).collect();
                return Err(Diagnostic::new(
                    &opts.config,
                    Code::UnknownStage,
                    format!("no promotion stage `{name}` (stages: {})", names.join(", ")),
                )
                .into());
            };
            let (flag, started) = match (&opts.stage_started_at, &opts.deployed_at) {
                (Some(s), _) => ("--stage-started-at", s),
                (None, Some(d)) => ("--deployed-at", d),
                (None, None) => return Err(Error::Usage("--stage needs --stage-started-at or --deployed-at".into())),
            };
            let started_ms = rfc3339_ms(flag, started)?;
            // Soak is time the evidence covers: a stage said to start before
            // the log's first decision would count hours nobody watched.
            if let Some(first) = canary_entries.first().filter(|e| e.ts_ms > started_ms) {
                return Err(Error::Usage(format!(
                    "{flag} {started} is before the first decision of the log ({}): give the decision logs from the stage's start, so its soak is evidence",
                    iso(first.ts_ms)
                )));
            }
            let end_ms = canary_entries.last().map_or(started_ms, |e| e.ts_ms);
            let gates = facts.as_ref().map(|f| f.gates.clone()).unwrap_or_default();
            Some(stage_check(&promotion.stages, index, started_ms, started, end_ms, &gates, &signal_states))
        }
    };
    blockers.stage(stage.as_ref());

    let blocking = blockers.0;
    let report = ReleaseReport {
        schema: RELEASE_SCHEMA.into(),
        version: opts.version.clone(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        today: today.format("%Y-%m-%d").to_string(),
        decision: match (&rollback, blocking.is_empty()) {
            (Some(r), _) if r.fired.is_some() => "ROLLBACK".into(),
            (_, true) => "GO".into(),
            (_, false) => "NO-GO".into(),
        },
        blocking,
        evidence,
        burn_alerts: alerts,
        canary,
        signals: signal_states,
        rollback,
        resumes,
        stage,
        unused_sign_offs,
        reasons: crate::release::reasons::distribution(&entries, &names.reasons),
        policy,
    };
    write_json(&out_dir.join("release-readiness.json"), &report)?;
    write_bytes(&out_dir.join("release-readiness.md"), crate::report::release::render_markdown(&report).as_bytes())?;
    write_bytes(&out_dir.join("release-readiness.html"), crate::report::release::render_html(&report).as_bytes())?;
    // The dashboard beside the verdict shows the latest rolling rates too.
    if let (Some(v), true) = (&verdict, out_dir == config.reports) {
        crate::report::render_all(v, None, &out_dir, &crate::report::default_history(&out_dir))?;
    }
    Ok(report)
}

/// Each gate a promotion stage requires that the project does not have.
pub(super) fn unknown_stage_gates(config: &Config, gate_ids: &[String]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, stage) in config.release.promotion.stages.iter().enumerate() {
        for (k, id) in stage.gates.iter().enumerate().filter(|(_, id)| !gate_ids.contains(id)) {
            let key = ["release", "promotion", "stages", &i.to_string(), "gates", &k.to_string()];
            out.push(
                config
                    .key_location(&key)
                    .diagnostic(Code::UnknownGate, format!("stage `{}` requires no gate `{id}`", stage.name)),
            );
        }
    }
    out
}

/// The project's sign-off records, every problem added to `problems`.
pub(super) fn load_project_sign_offs(
    config: &Config,
    today: NaiveDate,
    problems: &mut Vec<Diagnostic>,
) -> Vec<crate::release::promotion::SignOff> {
    let rule_ids: Vec<&str> = config.release.signals.rules.iter().map(|r| r.id.as_str()).collect();
    let folder = config.base.join(&config.release.promotion.sign_offs);
    // A folder written out must exist: a typo must not drop every record
    // and then blame a missing sign-off (the default may be absent).
    let key = ["release", "promotion", "sign-offs"];
    if config.spans.has(&key) && !folder.is_dir() {
        problems.push(
            config.key_location(&key).diagnostic(
                Code::MissingFolder,
                format!("`sign-offs` names {}, which is not a folder", folder.display()),
            ),
        );
        return Vec::new();
    }
    crate::config::load_sign_offs(&folder, &rule_ids, today, problems)
}

fn rfc3339_ms(flag: &str, at: &str) -> Result<i64, Error> {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.timestamp_millis())
        .map_err(|e| Error::Usage(format!("{flag} `{at}` is not an RFC 3339 time: {e}")))
}

/// `gauntlet alerts --format prometheus`: the project's production rules as
/// a Prometheus rules file, written to `out` (then `None`) or returned.
pub fn prometheus_rules(config: &Path, out: Option<&Path>) -> Result<Option<String>, Error> {
    let config = crate::config::Config::load(config)?;
    if let Some(path) = out {
        super::check_out_file(path)?;
    }
    let rules = crate::release::prometheus::render_rules(&config.release, &config.release.metrics);
    match out {
        Some(path) => write_bytes(path, rules.as_bytes()).map(|()| None),
        None => Ok(Some(rules)),
    }
}

/// A log time as people read it.
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |d| d.to_rfc3339())
}
