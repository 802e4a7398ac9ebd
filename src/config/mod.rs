//! Configuration: raw TOML → validated plan.
//!
//! Files are parsed into `Raw*` structs (kebab-case, unknown keys rejected
//! with their position), then validated into the types the engine uses.
//! Validation collects every problem before failing, so one run shows all.

mod fixtures;
mod gates;
mod ranges;
pub mod reference;
mod sign_offs;
mod transforms;
mod waivers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use fixtures::load_fixtures;
pub use gates::{load_gates, RESERVED_GATE_IDS};
pub use sign_offs::load_sign_offs;
pub use transforms::TransformConfig;
pub use waivers::{load_waivers, parse_waivers};

use crate::corpus::Decision;
use crate::errors::{toml_diagnostic, Code, Diagnostic, Error, Location};
use crate::evaluate::{WaiverPolicy, MAX_WAIVER_DAYS};
use crate::metrics::{CostWeights, CountingPolicy, ErrorCounting, IntervalMethod};
use crate::release::{BurnWindow, ReleasePolicy};
use crate::targets::{SpecFile, TargetSpec};
use crate::toml_spans::TomlSpans;

pub const DEFAULT_CONFIG: &str = "gauntlet.toml";

/// The `*.toml` files directly in `dir` (sorted) with their text; an
/// unreadable one is reported. A missing folder has none.
pub(crate) fn toml_files(dir: &Path, problems: &mut Vec<Diagnostic>) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| match std::fs::read_to_string(&path) {
            Ok(text) => Some((path, text)),
            Err(e) => {
                problems.push(Diagnostic::new(&path, Code::UnreadableFile, e.to_string()));
                None
            }
        })
        .collect()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawConfig {
    /// The system under test: `kind` and the keys of that kind.
    target: TargetSpec,
    #[serde(default)]
    /// Where the project's folders are.
    run: RawRun,
    #[serde(default)]
    /// How outcomes count in the rates.
    counting: RawCounting,
    #[serde(default)]
    /// Limits every waiver must respect.
    waiver_policy: RawWaiverPolicy,
    #[serde(default)]
    /// Release readiness: SLO, burn-rate windows, canary checks, signals, rollback, promotion, metric names.
    release: RawRelease,
    #[serde(default)]
    /// Robustness transforms applied to the corpora in chosen lanes.
    transforms: transforms::RawTransforms,
    #[serde(default)]
    /// Defaults of `gauntlet load`.
    load: crate::load::LoadSettings,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRelease {
    /// The SLO the error budget comes from (default 0.999).
    slo_target: Option<f64>,
    /// Multiwindow burn-rate alert pairs (default 60/5 min at 14.4x and 360/30 min at 6x).
    windows: Option<Vec<RawBurnWindow>>,
    /// Fewest decisions in a burn-rate window for it to be judged (default 100).
    min_window_decisions: Option<u64>,
    /// Fewest canary decisions before the canary is compared with the baseline (default 100).
    canary_min_decisions: Option<u64>,
    /// The canary's error rate above which the release is NO-GO.
    max_canary_error_rate: Option<f64>,
    /// The canary's deny rate above which the release is NO-GO.
    max_canary_deny_rate: Option<f64>,
    /// How far the canary's rates may exceed the baseline's (absolute).
    rate_tolerance: Option<f64>,
    /// How far the canary's p99 latency may exceed the baseline's (a ratio).
    latency_tolerance: Option<f64>,
    /// Oldest verdict, calibration, load or attack evidence a release accepts, in days.
    max_verdict_age_days: Option<i64>,
    /// `[release.signals]`: window, step, minimum volume and `[[release.signals.rules]]`.
    signals: Option<crate::release::signals::SignalPolicy>,
    /// `[[release.rollback]]`: max-age-hours and error-rate-above per row.
    rollback: Option<Vec<crate::release::rollback::RollbackRow>>,
    /// `[release.metrics]`: the production counters' names, for `gauntlet alerts`.
    metrics: Option<crate::release::prometheus::MetricNames>,
    /// `[release.promotion]`: `[[release.promotion.stages]]`, clear windows, sign-offs folder.
    promotion: Option<crate::release::promotion::PromotionPolicy>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawBurnWindow {
    /// The long window, in minutes.
    long_minutes: i64,
    /// The short window, in minutes.
    short_minutes: i64,
    /// Burn-rate multiple both windows must exceed.
    factor: f64,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawWaiverPolicy {
    /// Longest a waiver may run, `created` to `expires` (default 30).
    max_days: Option<i64>,
    /// A waiver this close to expiry is a warning (default 7).
    expiring_soon_days: Option<i64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRun {
    #[serde(default = "default_corpora")]
    /// Folders of corpus files (default `["corpora"]`).
    corpora: Vec<String>,
    #[serde(default = "default_gates")]
    /// Folder of gate files (default `gates`).
    gates: String,
    /// Left out: `waivers` beside the config, which may not exist. Written
    /// out: the folder must exist (a typo must not drop every waiver).
    waivers: Option<String>,
    /// As `waivers`: a configured fixtures folder must exist.
    fixtures: Option<String>,
    #[serde(default = "default_reports")]
    /// Where reports are written (default `reports`).
    reports: String,
}

impl Default for RawRun {
    fn default() -> Self {
        RawRun {
            corpora: default_corpora(),
            gates: default_gates(),
            waivers: None,
            fixtures: None,
            reports: default_reports(),
        }
    }
}

fn default_corpora() -> Vec<String> {
    vec!["corpora".into()]
}
fn default_gates() -> String {
    "gates".into()
}
fn default_reports() -> String {
    "reports".into()
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCounting {
    /// How a target error counts: `pessimistic` (against the target, default) or `exclude`.
    errors: Option<ErrorCounting>,
    /// Whether `require_approval` on a benign case is a false positive (default) or not.
    benign_require_approval: Option<BenignApproval>,
    /// Whether `require_approval` on an adversarial case counts as detected (default) or as an attack success.
    adversarial_require_approval: Option<AdversarialApproval>,
    /// Confidence-interval method for rates (default `wilson`).
    interval: Option<IntervalMethod>,
    /// Confidence level of every interval (default 0.95).
    confidence: Option<f64>,
    /// Cost per (expected -> actual) cell, e.g. `"block->allow" = 10.0`.
    costs: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum BenignApproval {
    FalsePositive,
    Allowed,
}

#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
enum AdversarialApproval {
    Detected,
    AttackSuccess,
}

/// `[release.signals]` and `[release.promotion]` name each other: rule ids
/// unique, stage names unique, every stage's signals existing rules.
fn release_rules_problems(release: &ReleasePolicy, path: &Path, spans: &TomlSpans, problems: &mut Vec<Diagnostic>) {
    let rules = &release.signals.rules;
    for (i, rule) in rules.iter().enumerate() {
        let earlier = rules[..i].iter().filter(|r| r.id == rule.id).count();
        let index = i.to_string();
        let at = |message: String, code| {
            Diagnostic::new(path, code, message).at_key(spans, &["release", "signals", "rules", &index, "id"])
        };
        if earlier > 0 {
            problems.push(at(format!("two signal rules are called `{}`", rule.id), Code::DuplicateId));
        }
        if !(rule.above >= 0.0 && rule.above.is_finite()) || rule.for_minutes < 0 {
            problems.push(at(format!("rule `{}` needs above >= 0 and for-minutes >= 0", rule.id), Code::OutOfRange));
        }
    }
    let stages = &release.promotion.stages;
    for (i, stage) in stages.iter().enumerate() {
        let earlier = stages[..i].iter().filter(|s| s.name == stage.name).count();
        let index = i.to_string();
        let at = |message: String, code| {
            Diagnostic::new(path, code, message).at_key(spans, &["release", "promotion", "stages", &index, "name"])
        };
        if earlier > 0 {
            problems.push(at(format!("two promotion stages are called `{}`", stage.name), Code::DuplicateId));
        }
        let valid = stage.traffic_percent > 0.0 && stage.traffic_percent <= 100.0 && stage.min_soak_hours >= 0.0;
        if !valid {
            problems.push(at(
                format!("stage `{}` needs 0 < traffic-percent <= 100 and min-soak-hours >= 0", stage.name),
                Code::OutOfRange,
            ));
        }
        for id in stage.signals.iter().flatten().filter(|id| !rules.iter().any(|r| &r.id == *id)) {
            problems.push(at(format!("stage `{}` names no signal rule `{id}`", stage.name), Code::UnknownRule));
        }
    }
}

/// A validated `gauntlet.toml`.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    /// The folder relative paths resolve against.
    pub base: PathBuf,
    pub text: String,
    /// Where each key of `text` is written, for checks made after parsing.
    pub spans: TomlSpans,
    pub target: TargetSpec,
    pub corpora: Vec<PathBuf>,
    pub gates: PathBuf,
    pub waivers: PathBuf,
    pub fixtures: PathBuf,
    pub reports: PathBuf,
    pub counting: CountingPolicy,
    pub waiver_policy: WaiverPolicy,
    pub release: ReleasePolicy,
    pub costs: CostWeights,
    /// `[transforms]`, when it applies any.
    pub transforms: Option<TransformConfig>,
    /// `[load]`: defaults for `gauntlet load`.
    pub load: crate::load::LoadSettings,
}

/// Keys of `[target]` that apply to every kind.
const COMMON_KEYS: &[&str] = &[
    "kind",
    "tenant",
    "anonymous",
    "health-probe",
    "abort-error-share",
    "abort-min-cases",
    "canary",
    "canary-block",
    "canary-allow",
];
const BUILTIN_KEYS: &[&str] = &["rules", "threshold", "approval-threshold", "system-prompt"];
const EXEC_KEYS: &[&str] = &[
    "command",
    "workers",
    "window",
    "max-restarts",
    "hello",
    "startup-ms",
    "hang-ms",
    "timeout-ms",
    "cost",
    "max-requests",
    "max-cost",
];
const HTTP_KEYS: &[&str] = &[
    "url",
    "body",
    "headers",
    "decision",
    "decision-map",
    "score",
    "reasons",
    "concurrency",
    "retries",
    "timeout-ms",
    "ca-file",
    "client-cert",
    "client-key",
    "allow-http",
    "preset",
    "decision-text",
    "decision-any",
    "score-max",
    "reasons-keys",
    "reasons-threshold",
    "reasons-items",
    "rate-limit",
    "cost",
    "max-requests",
    "max-cost",
];

impl Config {
    /// Where the key `path` is written in this config (or the nearest table
    /// above it; the file alone when neither is).
    pub fn key_location(&self, path: &[&str]) -> Location {
        match self.spans.locate(path) {
            Some((line, column)) => Location { path: self.path.clone(), line: Some(line), column: Some(column) },
            None => Location::new(&self.path),
        }
    }

    /// Where `[target]` was read from, for the target factory's diagnostics.
    pub fn spec_file(&self) -> SpecFile<'_> {
        SpecFile { path: &self.path, spans: &self.spans, base: &self.base }
    }

    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Diagnostic::new(path, Code::UnreadableConfig, format!("cannot read config: {e}")))?;
        Self::parse(path, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<Config, Error> {
        let raw: RawConfig = toml::from_str(&text).map_err(|e| toml_diagnostic(path, &text, &e))?;
        let spans = TomlSpans::parse(&text);
        let at = |key: &[&str], code: Code, message: String| Diagnostic::new(path, code, message).at_key(&spans, key);
        let mut problems = ranges::problems(path, &spans);
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };

        let allowed: &[&str] = match raw.target.kind.as_str() {
            "builtin" => BUILTIN_KEYS,
            "exec" => EXEC_KEYS,
            "http" => HTTP_KEYS,
            other => {
                let message = format!("target kind `{other}` is not builtin, exec or http");
                problems.push(at(&["target", "kind"], Code::UnknownTargetKind, message));
                &[]
            }
        };
        let mut seen_tenants = std::collections::HashSet::new();
        for (i, t) in raw.target.tenant.iter().flatten().enumerate() {
            let index = i.to_string();
            if t.id.trim().is_empty() || !seen_tenants.insert(t.id.clone()) {
                let message = format!("tenant id `{}` is empty or repeated", t.id);
                problems.push(at(&["target", "tenant", &index, "id"], Code::InvalidTenant, message));
            }
            if raw.target.kind != "builtin" && (t.threshold.is_some() || t.system_prompt.is_some()) {
                let key = if t.threshold.is_some() { "threshold" } else { "system-prompt" };
                let message = "tenant threshold and system-prompt apply to the builtin target only".to_string();
                problems.push(at(&["target", "tenant", &index, key], Code::KeyNotForKind, message));
            }
        }
        // The keys written in [target], as the parser saw them: a key of
        // another kind is reported, never silently ignored.
        for key in spans.keys_in(&["target"]) {
            if !allowed.is_empty() && !allowed.contains(&key) && !COMMON_KEYS.contains(&key) {
                let message = format!("`{key}` does not apply to a `{}` target", raw.target.kind);
                problems.push(at(&["target", key], Code::KeyNotForKind, message));
            }
        }
        match raw.target.kind.as_str() {
            "exec" if raw.target.command.as_ref().is_none_or(|c| c.is_empty()) => problems.push(at(
                &["target", "command"],
                Code::MissingField,
                "an exec target needs `command`, a non-empty list".into(),
            )),
            "http" if raw.target.url.is_none() => {
                let preset = raw.target.preset.as_deref().and_then(crate::targets::presets::find);
                if preset.is_none_or(|p| p.url.is_none()) {
                    let hint = preset.map(|p| format!(" (preset `{}`: {})", p.name, p.endpoint)).unwrap_or_default();
                    problems.push(at(&["target"], Code::MissingField, format!("an http target needs `url`{hint}")));
                }
            }
            _ => {}
        }
        for (key, value) in [("threshold", raw.target.threshold), ("approval-threshold", raw.target.approval_threshold)]
        {
            if value.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                problems.push(at(&["target", key], Code::OutOfRange, format!("`{key}` must be in [0, 1]")));
            }
        }
        if raw.target.abort_error_share.is_some_and(|v| !(v > 0.0 && v <= 1.0)) {
            let message = "`abort-error-share` must be in (0, 1]".to_string();
            problems.push(at(&["target", "abort-error-share"], Code::OutOfRange, message));
        }
        let confidence = raw.counting.confidence.unwrap_or(CountingPolicy::default().confidence);
        if !(confidence > 0.5 && confidence < 1.0) {
            let message = "`confidence` must be in (0.5, 1)".to_string();
            problems.push(at(&["counting", "confidence"], Code::OutOfRange, message));
        }
        let default_policy = WaiverPolicy::default();
        let waiver_policy = WaiverPolicy {
            max_days: raw.waiver_policy.max_days.unwrap_or(default_policy.max_days),
            expiring_soon_days: raw.waiver_policy.expiring_soon_days.unwrap_or(default_policy.expiring_soon_days),
        };
        if !(1..=MAX_WAIVER_DAYS).contains(&waiver_policy.max_days) {
            let message =
                format!("`max-days` must be 1 to {MAX_WAIVER_DAYS}: a project may lower the limit, never raise it");
            problems.push(at(&["waiver-policy", "max-days"], Code::OutOfRange, message));
        }
        if waiver_policy.expiring_soon_days < 0 {
            let message = "`expiring-soon-days` must not be negative".to_string();
            problems.push(at(&["waiver-policy", "expiring-soon-days"], Code::OutOfRange, message));
        }
        let d = ReleasePolicy::default();
        let r = &raw.release;
        let release = ReleasePolicy {
            slo_target: r.slo_target.unwrap_or(d.slo_target),
            windows: match &r.windows {
                Some(ws) => ws
                    .iter()
                    .map(|w| BurnWindow {
                        long_minutes: w.long_minutes,
                        short_minutes: w.short_minutes,
                        factor: w.factor,
                    })
                    .collect(),
                None => d.windows.clone(),
            },
            min_window_decisions: r.min_window_decisions.unwrap_or(d.min_window_decisions),
            canary_min_decisions: r.canary_min_decisions.unwrap_or(d.canary_min_decisions),
            max_canary_error_rate: r.max_canary_error_rate.unwrap_or(d.max_canary_error_rate),
            max_canary_deny_rate: r.max_canary_deny_rate.unwrap_or(d.max_canary_deny_rate),
            rate_tolerance: r.rate_tolerance.unwrap_or(d.rate_tolerance),
            latency_tolerance: r.latency_tolerance.unwrap_or(d.latency_tolerance),
            max_verdict_age_days: r.max_verdict_age_days.unwrap_or(d.max_verdict_age_days),
            signals: r.signals.clone().unwrap_or(d.signals),
            rollback: r.rollback.clone().unwrap_or(d.rollback),
            metrics: r.metrics.clone().unwrap_or(d.metrics),
            promotion: r.promotion.clone().unwrap_or(d.promotion),
        };
        release_rules_problems(&release, path, &spans, &mut problems);
        for (key, message) in release.metrics.problems() {
            problems.push(at(&["release", "metrics", key], Code::InvalidPrometheusName, message));
        }
        if !(release.slo_target > 0.0 && release.slo_target < 1.0) {
            let message = "`slo-target` must be in (0, 1), e.g. 0.999".to_string();
            problems.push(at(&["release", "slo-target"], Code::OutOfRange, message));
        }
        for (i, w) in release.windows.iter().enumerate() {
            if w.short_minutes <= 0 || w.long_minutes <= w.short_minutes || w.factor <= 0.0 {
                let message = "each burn window needs 0 < short-minutes < long-minutes and factor > 0".to_string();
                problems.push(at(&["release", "windows", &i.to_string()], Code::InvalidWindow, message));
            }
        }
        let valid_cell = |k: &str| {
            k.split_once("->")
                .is_some_and(|(e, a)| Decision::parse(e).is_some() && (Decision::parse(a).is_some() || a == "error"))
        };
        for (cell, weight) in raw.counting.costs.iter().flatten() {
            if !valid_cell(cell) || *weight < 0.0 {
                let message = format!("cost `{cell}` must be EXPECTED->ACTUAL (e.g. block->allow) with a weight ≥ 0");
                problems.push(at(&["counting", "costs", cell], Code::InvalidCost, message));
            }
        }
        for (key, value) in [("waivers", &raw.run.waivers), ("fixtures", &raw.run.fixtures)] {
            if let Some(dir) = value.as_deref().map(|d| base.join(d)).filter(|d| !d.is_dir()) {
                let message = format!("`{key}` names {}, which is not a folder", dir.display());
                problems.push(at(&["run", key], Code::MissingFolder, message));
            }
        }
        for (key, value) in [
            ("workers", raw.target.workers.map(|v| v as u64)),
            ("window", raw.target.window.map(|v| v as u64)),
            ("timeout-ms", raw.target.timeout_ms),
            ("startup-ms", raw.target.startup_ms),
            ("hang-ms", raw.target.hang_ms),
            ("concurrency", raw.target.concurrency.map(|v| v as u64)),
        ] {
            if value == Some(0) {
                problems.push(at(&["target", key], Code::OutOfRange, format!("`{key}` must be at least 1")));
            }
        }
        if raw.run.corpora.is_empty() {
            problems.push(at(&["run", "corpora"], Code::EmptyCorpus, "`corpora` lists no path".into()));
        }
        let transforms = transforms::validate(&raw.transforms, path, &spans, &base, &mut problems);
        if !problems.is_empty() {
            return Err(Error::Input(problems));
        }
        let counting = CountingPolicy {
            benign_approval_is_false_positive: !matches!(
                raw.counting.benign_require_approval,
                Some(BenignApproval::Allowed)
            ),
            adversarial_approval_is_success: matches!(
                raw.counting.adversarial_require_approval,
                Some(AdversarialApproval::AttackSuccess)
            ),
            errors: raw.counting.errors.unwrap_or_default(),
            interval: raw.counting.interval.unwrap_or_default(),
            confidence,
        };
        let resolve = |p: &str| base.join(p);
        Ok(Config {
            transforms,
            load: raw.load,
            corpora: raw.run.corpora.iter().map(|p| resolve(p)).collect(),
            gates: resolve(&raw.run.gates),
            waivers: resolve(raw.run.waivers.as_deref().unwrap_or("waivers")),
            fixtures: resolve(raw.run.fixtures.as_deref().unwrap_or("fixtures")),
            reports: resolve(&raw.run.reports),
            path: path.to_path_buf(),
            base,
            text,
            spans,
            target: raw.target,
            counting,
            waiver_policy,
            release,
            costs: CostWeights(raw.counting.costs.clone().unwrap_or_default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(Path::new("dir/gauntlet.toml"), text.to_string())
    }

    #[test]
    fn minimal_config_resolves_paths_against_its_folder() {
        let c = parse("[target]\nkind = \"builtin\"\n").unwrap();
        assert_eq!(c.corpora, vec![PathBuf::from("dir/corpora")]);
        assert_eq!(c.reports, PathBuf::from("dir/reports"));
        assert_eq!(c.counting, CountingPolicy::default());
    }

    #[test]
    fn signal_rules_and_promotion_stages_are_checked_against_each_other() {
        let text = "[target]\nkind = \"builtin\"\n\n[release.signals]\nrules = [\n  { id = \"fpr\", signal = \"fpr\", above = 0.15, for-minutes = 5 },\n  { id = \"fpr\", signal = \"asr\", above = -1, for-minutes = 5 },\n]\n\n[[release.promotion.stages]]\nname = \"canary\"\ntraffic-percent = 150\nmin-soak-hours = 1\nsignals = [\"fpr\", \"asr-high\"]\n";
        let Err(Error::Input(d)) = parse(text) else { panic!("accepted") };
        let codes: Vec<(&str, Option<usize>)> = d.iter().map(|d| (d.code.as_str(), d.line)).collect();
        assert_eq!(
            codes,
            [
                ("duplicate-id", Some(7)),
                ("out-of-range", Some(7)),
                ("out-of-range", Some(11)),
                ("unknown-rule", Some(11))
            ],
            "{d:?}"
        );
        // Default stages follow whatever rules the project defines.
        assert!(parse("[target]\nkind = \"builtin\"\n[release.signals]\nrules = [{ id = \"x\", signal = \"fpr\", above = 0.1, for-minutes = 1 }]\n").is_ok());
    }

    #[test]
    fn unknown_key_is_reported_with_line_and_column() {
        let Err(Error::Input(d)) = parse("[target]\nkind = \"builtin\"\n[run]\ncorpra = [\"x\"]\n") else { panic!() };
        assert_eq!(d[0].line, Some(4), "{}", d[0]);
        assert!(d[0].message.contains("corpra"), "{}", d[0]);
        assert!(d[0].column.is_some());
    }

    /// Regression: a check located its key by searching the text for the
    /// key's name, so a comment (or another table) mentioning it took the blame.
    #[test]
    fn a_checked_key_is_located_where_it_is_written() {
        let text = "# threshold = 0.5 is the usual choice\n[target]\nkind = \"builtin\"\nthreshold = 3.0\n[[target.tenant]]\nid = \"a\"\n[[target.tenant]]\nid = \"a\"\n";
        let Err(Error::Input(d)) = parse(text) else { panic!("accepted") };
        let at: Vec<(&str, Option<usize>)> = d.iter().map(|d| (d.code.as_str(), d.line)).collect();
        assert_eq!(at, [("invalid-tenant", Some(8)), ("out-of-range", Some(4))], "{d:?}");
    }

    #[test]
    fn every_problem_is_collected() {
        let Err(Error::Input(d)) =
            parse("[target]\nkind = \"builtin\"\nurl = \"http://x\"\nthreshold = 3.0\n[counting]\nconfidence = 2.0\n")
        else {
            panic!()
        };
        let codes: Vec<_> = d.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["key-not-for-kind", "out-of-range", "out-of-range"]);
        assert_eq!(d[0].line, Some(3));
    }

    /// Regression (#21): `all` dropped the chains listed beside it.
    #[test]
    fn transforms_all_keeps_the_chains_beside_it_and_benign_adds_labels() {
        let c = parse(
            "[target]\nkind = \"builtin\"\n\n[transforms]\napply = [\"all\", \"base64+roleplay\"]\nbenign = [\"base64\"]\n",
        )
        .unwrap();
        let plan = &c.transforms.unwrap().plan;
        let find = |n: &str| plan.chains.iter().find(|(c, _)| c.name == n).map(|(_, l)| l.clone());
        assert_eq!(find("base64+roleplay"), Some(vec![crate::corpus::Label::Adversarial]));
        assert_eq!(find("base64"), Some(vec![crate::corpus::Label::Adversarial, crate::corpus::Label::Benign]));
        assert_eq!(find("morse"), Some(vec![crate::corpus::Label::Adversarial]));
        let twice = parse("[target]\nkind = \"builtin\"\n\n[transforms]\napply = [\"rot13\", \"rot13\"]\n");
        assert!(twice.unwrap_err().to_string().contains("listed twice"));
    }
}
