//! `gauntlet report --from`: every report re-rendered from saved files.

use std::path::Path;

use crate::errors::Code;
use crate::errors::{Diagnostic, Error};
use crate::report::{render_all, Verdict, VERDICT_SCHEMA};

/// `gauntlet report --from`: re-renders every report from saved files.
pub fn report_from(verdict_path: &Path, results_path: Option<&Path>, out_dir: Option<&Path>) -> Result<Verdict, Error> {
    let text = std::fs::read_to_string(verdict_path)
        .map_err(|e| Diagnostic::new(verdict_path, Code::UnreadableFile, e.to_string()))?;
    let verdict: Verdict = serde_json::from_str(&text)
        .map_err(|e| Diagnostic::new(verdict_path, Code::InvalidVerdict, e.to_string()).at(e.line(), e.column()))?;
    if verdict.schema != VERDICT_SCHEMA {
        return Err(Diagnostic::new(
            verdict_path,
            Code::UnknownSchema,
            format!("schema `{}` is not {VERDICT_SCHEMA}", verdict.schema),
        )
        .into());
    }
    let results = match results_path {
        Some(p) => Some(crate::report::results_file::read_results(p)?),
        None => None,
    };
    let dir =
        out_dir.map(Path::to_path_buf).unwrap_or_else(|| verdict_path.parent().unwrap_or(Path::new(".")).to_path_buf());
    render_all(&verdict, results.as_deref(), &dir)?;
    Ok(verdict)
}
