//! `results.csv`: one row per case, the fields of results.jsonl, quoted by
//! the csv crate. Cells that a spreadsheet would run as a formula (starting
//! with `=`, `+`, `-`, `@`, tab or carriage return) get a leading `'`, the
//! usual defence against CSV injection; everything else is verbatim.

use std::path::Path;

use super::atomic::write_atomic;
use crate::errors::Error;
use crate::replay::CaseResult;

fn inert(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

pub fn write_csv(path: &Path, results: &[CaseResult]) -> Result<(), Error> {
    write_atomic(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        let header = [
            "id",
            "label",
            "category",
            "source",
            "direction",
            "expected",
            "decision",
            "score",
            "reasons",
            "latency_us",
            "error_kind",
            "error_message",
            "attempts",
            "input",
        ];
        out.write_record(header).map_err(std::io::Error::other)?;
        for r in results {
            let error_kind = r
                .error
                .as_ref()
                .map(|e| {
                    serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
                })
                .unwrap_or_default();
            let record = [
                inert(&r.id),
                r.label.as_str().to_string(),
                inert(&r.category),
                inert(&r.source),
                format!("{:?}", r.direction).to_lowercase(),
                r.expected.map(|d| d.as_str().to_string()).unwrap_or_default(),
                r.decision.map(|d| d.as_str().to_string()).unwrap_or_default(),
                r.score.map(|s| s.to_string()).unwrap_or_default(),
                inert(&r.reasons.iter().map(|s| &**s).collect::<Vec<_>>().join(";")),
                r.latency_us.to_string(),
                error_kind,
                inert(&r.error.as_ref().map(|e| e.message.clone()).unwrap_or_default()),
                r.attempts.to_string(),
                inert(&r.input.display_text()),
            ];
            out.write_record(&record).map_err(std::io::Error::other)?;
        }
        out.flush()
    })
}
