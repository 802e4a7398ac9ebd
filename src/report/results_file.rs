//! `results.jsonl`: one [`CaseResult`] per line, in corpus order.

use std::path::Path;

use rayon::prelude::*;

use super::atomic::write_rendered;
use crate::errors::{Diagnostic, Error};
use crate::replay::CaseResult;

/// Writes results, serialising chunks in parallel (order preserved).
pub fn write_results(path: &Path, results: &[CaseResult]) -> Result<(), Error> {
    write_rendered(path, b"", results, |chunk, buf| {
        for r in chunk {
            serde_json::to_writer(&mut *buf, r)?;
            buf.push(b'\n');
        }
        Ok(())
    })
}

/// Reads a saved `results.jsonl`; every bad line is reported with `path:line`.
pub fn read_results(path: &Path) -> Result<Vec<CaseResult>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Diagnostic::new(path, "unreadable-file", e.to_string()))?;
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
    let parsed: Vec<Result<CaseResult, Diagnostic>> = lines
        .par_iter()
        .map(|&(line, l)| {
            serde_json::from_str(l)
                .map_err(|e| Diagnostic::new(path, "invalid-result", e.to_string()).at(line, e.column()))
        })
        .collect();
    let mut results = Vec::with_capacity(parsed.len());
    let mut problems = Vec::new();
    for p in parsed {
        match p {
            Ok(r) => results.push(r),
            Err(d) => problems.push(d),
        }
    }
    if problems.is_empty() {
        Ok(results)
    } else {
        Err(Error::Input(problems))
    }
}
