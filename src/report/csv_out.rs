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

const HEADER: [&str; 14] = [
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

fn record(r: &CaseResult) -> [String; 14] {
    let error_kind = r
        .error
        .as_ref()
        .and_then(|e| serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(String::from)))
        .unwrap_or_default();
    [
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
    ]
}

/// Rows are formatted in parallel chunks, then written in order.
pub fn write_csv(path: &Path, results: &[CaseResult]) -> Result<(), Error> {
    use rayon::prelude::*;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = results
        .par_chunks(8192)
        .map(|chunk| {
            let mut out =
                csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(chunk.len() * 200));
            for r in chunk {
                out.write_record(record(r)).map_err(std::io::Error::other)?;
            }
            out.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
        })
        .collect();
    write_atomic(path, |w| {
        let mut header = csv::Writer::from_writer(Vec::new());
        header.write_record(HEADER).map_err(std::io::Error::other)?;
        w.write_all(&header.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?)?;
        for chunk in chunks {
            w.write_all(&chunk?)?;
        }
        Ok(())
    })
}
