//! The gates gauntlet adds itself, beside the project's `gates/*.toml`:
//! `tenant-fail-closed`, `golden:<dataset>`, `determinism` and the waiver
//! lifecycle gate. Each counts problems (zero passes), so they share one
//! constructor and read the same in every report.

use super::golden::{GoldenReport, GoldenStatus};
use super::{Gate, GateOutcome, GateStatus, LIFECYCLE_GATE};
use crate::corpus::Decision;
use crate::errors::Location;
use crate::replay::CaseResult;

/// Ids of the probe requests `tenant-fail-closed` judges.
pub use crate::targets::tenants::PROBE_PREFIX;

/// A gate whose value is a count of problems out of `samples` checked.
fn own_gate(gate: Gate, status: GateStatus, problems: u64, samples: u64, detail: String) -> GateOutcome {
    GateOutcome {
        gate,
        status,
        value: Some(problems as f64),
        interval: None,
        compared: Some(problems as f64),
        samples,
        detail,
        waiver: None,
    }
}

/// Gate `tenant-fail-closed`: every probe must be blocked.
pub fn tenant_fail_closed(
    fixture_results: &[CaseResult],
    defined_at: &Location,
    aborted: Option<&str>,
) -> Option<GateOutcome> {
    let probes: Vec<&CaseResult> = fixture_results.iter().filter(|r| r.id.starts_with(PROBE_PREFIX)).collect();
    if probes.is_empty() {
        return None;
    }
    let open: Vec<String> = probes
        .iter()
        .filter(|r| r.decision != Some(Decision::Block))
        .map(|r| format!("{} answered {}", r.id, r.decision.map(|d| d.as_str()).unwrap_or("error")))
        .collect();
    let (status, detail) = match (aborted, open.is_empty()) {
        (Some(reason), _) => (GateStatus::Error, format!("run incomplete: {reason}")),
        (None, true) => (GateStatus::Pass, format!("{} probe(s) refused", probes.len())),
        (None, false) => (GateStatus::Fail, format!("not fail-closed: {}", open.join("; "))),
    };
    Some(own_gate(
        Gate::synthetic(
            "tenant-fail-closed",
            "Requests for an unknown tenant (or none, without anonymous access) are blocked.",
            defined_at.clone(),
        ),
        status,
        open.len() as u64,
        probes.len() as u64,
        detail,
    ))
}

/// Gate `golden:<dataset>` per snapshot: decisions must match it.
pub fn golden(reports: &[GoldenReport], aborted: Option<&str>) -> Vec<GateOutcome> {
    reports
        .iter()
        .map(|g| {
            let (status, detail) = match (aborted, g.status) {
                (Some(reason), _) => (GateStatus::Error, format!("run incomplete: {reason}")),
                (None, GoldenStatus::Match) => (GateStatus::Pass, "decisions match the snapshot".to_string()),
                (None, GoldenStatus::Blessed) => {
                    (GateStatus::Pass, "snapshot blessed with the current decisions".to_string())
                }
                (None, GoldenStatus::Missing) => {
                    (GateStatus::Fail, format!("no snapshot at {}: review and run `gauntlet fixtures bless`", g.path))
                }
                (None, GoldenStatus::Changed) => (
                    GateStatus::Fail,
                    format!(
                        "{} flipped, {} other changes; first lines:\n{}",
                        g.flips,
                        g.changes,
                        first_lines(&g.diff, 8)
                    ),
                ),
            };
            own_gate(
                Gate::synthetic(
                    format!("golden:{}", g.dataset),
                    format!("Decisions on `{}` match fixtures/golden.", g.dataset),
                    Location::new(&g.path),
                ),
                status,
                g.flips + g.changes,
                g.cases,
                detail,
            )
        })
        .collect()
}

fn first_lines(s: &str, n: usize) -> String {
    s.lines().take(n).collect::<Vec<_>>().join("\n")
}

/// Gate `determinism`: a second replay (on another thread count) must give
/// every case the same decision, score, reasons and error kind.
pub fn determinism(first: &[CaseResult], second: &[CaseResult], threads: (usize, usize)) -> GateOutcome {
    let key =
        |r: &CaseResult| (r.decision, r.score.map(f64::to_bits), r.reasons.clone(), r.error.as_ref().map(|e| e.kind));
    let differing: Vec<&str> =
        first.iter().zip(second).filter(|(a, b)| key(a) != key(b)).map(|(a, _)| a.id.as_str()).collect();
    let detail = if differing.is_empty() {
        format!("{} cases identical across two replays ({} and {} threads)", first.len(), threads.0, threads.1)
    } else {
        let shown: Vec<&str> = differing.iter().take(20).copied().collect();
        format!("{} case(s) differ between replays: {}", differing.len(), shown.join(", "))
    };
    own_gate(
        Gate::synthetic(
            "determinism",
            "Two replays (on different thread counts) give identical answers.",
            Location::new("--check-determinism"),
        ),
        if differing.is_empty() { GateStatus::Pass } else { GateStatus::Fail },
        differing.len() as u64,
        first.len() as u64,
        detail,
    )
}

/// The gate template for gauntlet's own waiver gate.
pub fn lifecycle_gate(waivers_dir: &std::path::Path) -> Gate {
    Gate::synthetic(LIFECYCLE_GATE, "No expired or invalid waiver.", Location::new(waivers_dir))
}
