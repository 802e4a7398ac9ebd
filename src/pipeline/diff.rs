//! `gauntlet diff A B`: reads two report folders, compares them (the pure
//! work is `compare`), writes diff.json and diff.md.

use std::path::{Path, PathBuf};

use super::write_json;
use crate::atomic_file::write_bytes;
use crate::compare::{compare, render_markdown, Diff, RunData};
use crate::errors::{Code, Diagnostic, Error};
use crate::report::Verdict;

/// What `gauntlet diff` was asked to do.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// The base run's report folder (e.g. main's last run).
    pub a: PathBuf,
    /// The run compared with it (e.g. the pull request's).
    pub b: PathBuf,
    /// The smallest worsening (absolute) that counts as a regression.
    pub tolerance: f64,
    /// Where diff.json and diff.md go.
    pub out_dir: PathBuf,
}

fn read_run(dir: &Path) -> Result<(Verdict, Vec<crate::replay::CaseResult>), Error> {
    let verdict_path = dir.join("verdict.json");
    let results_path = dir.join("results.jsonl");
    for path in [&verdict_path, &results_path] {
        if !path.is_file() {
            return Err(Diagnostic::new(
                path,
                Code::UnreadableFile,
                "a diff needs a report folder's verdict.json and results.jsonl",
            )
            .into());
        }
    }
    let verdict = Verdict::read(&verdict_path)?;
    let results = crate::report::results_file::read_results(&results_path, &())?;
    Ok((verdict, results))
}

/// Compares run B with the base run A and writes diff.json and diff.md.
pub fn diff(opts: &DiffOptions) -> Result<Diff, Error> {
    if !(0.0..1.0).contains(&opts.tolerance) {
        return Err(Error::Usage("--tolerance is an absolute fraction in [0, 1), e.g. 0.01 for one point".into()));
    }
    let (va, ra) = read_run(&opts.a)?;
    let (vb, rb) = read_run(&opts.b)?;
    let a = RunData { path: opts.a.display().to_string(), verdict: &va, results: &ra };
    let b = RunData { path: opts.b.display().to_string(), verdict: &vb, results: &rb };
    let diff = compare(&a, &b, opts.tolerance)
        .map_err(|why| Error::from(Diagnostic::new(&opts.b.join("verdict.json"), Code::IncomparableRuns, why.0)))?;
    crate::atomic_file::check_writable(&opts.out_dir)
        .map_err(|e| Error::Usage(format!("--out {}: cannot write there: {e}", opts.out_dir.display())))?;
    write_json(&opts.out_dir.join("diff.json"), &diff)?;
    write_bytes(&opts.out_dir.join("diff.md"), render_markdown(&diff).as_bytes())?;
    Ok(diff)
}
