//! `results.csv`: one row per case, the fields of results.jsonl, quoted by
//! the csv crate. Cells that a spreadsheet would run as a formula (starting
//! with `=`, `+`, `-`, `@`, tab or carriage return) get a leading `'`, the
//! usual defence against CSV injection; everything else is verbatim.

use std::borrow::Cow;
use std::path::Path;

use super::atomic::write_rendered;
use crate::errors::Error;
use crate::replay::CaseResult;

fn inert(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
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

/// One row, field by field: borrowed wherever the value already is text.
fn write_row<W: std::io::Write>(out: &mut csv::Writer<W>, r: &CaseResult) -> csv::Result<()> {
    let direction = match r.direction {
        crate::corpus::Direction::Ingress => "ingress",
        crate::corpus::Direction::Egress => "egress",
    };
    let error_kind = r
        .error
        .as_ref()
        .and_then(|e| serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(String::from)))
        .unwrap_or_default();
    let reasons = r.reasons.iter().map(|s| &**s).collect::<Vec<_>>().join(";");
    let input = match &r.input {
        crate::corpus::Payload::Text(t) => Cow::Borrowed(t.as_str()),
        other => Cow::Owned(other.display_text()),
    };
    out.write_field(inert(&r.id).as_bytes())?;
    out.write_field(r.label.as_str())?;
    out.write_field(inert(&r.category).as_bytes())?;
    out.write_field(inert(&r.source).as_bytes())?;
    out.write_field(direction)?;
    out.write_field(r.expected.map(|d| d.as_str()).unwrap_or(""))?;
    out.write_field(r.decision.map(|d| d.as_str()).unwrap_or(""))?;
    out.write_field(r.score.map(|s| s.to_string()).unwrap_or_default())?;
    out.write_field(inert(&reasons).as_bytes())?;
    out.write_field(r.latency_us.to_string())?;
    out.write_field(&error_kind)?;
    out.write_field(inert(r.error.as_ref().map(|e| e.message.as_str()).unwrap_or("")).as_bytes())?;
    out.write_field(r.attempts.to_string())?;
    out.write_field(inert(&input).as_bytes())?;
    out.write_record(None::<&[u8]>)
}

/// Rows are formatted in parallel chunks, then written in order.
pub fn write_csv(path: &Path, results: &[CaseResult]) -> Result<(), Error> {
    let mut header = csv::Writer::from_writer(Vec::new());
    header.write_record(HEADER).map_err(std::io::Error::other).map_err(|e| Error::io(path, e))?;
    let header = header.into_inner().map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    write_rendered(path, &header, results, |chunk, buf| {
        let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(std::mem::take(buf));
        for r in chunk {
            write_row(&mut out, r).map_err(std::io::Error::other)?;
        }
        *buf = out.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(())
    })
}
