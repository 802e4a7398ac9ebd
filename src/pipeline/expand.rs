//! `gauntlet corpus expand`: the robustness variants of a project's corpora
//! written as a corpus file, so a team can review and commit them (and a
//! transform made by another process could only enter this way: a run
//! stays deterministic).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::atomic_file::write_atomic;
use crate::config::Config;
use crate::corpus::load_corpora;
use crate::errors::Error;
use crate::evaluate::Lane;

/// Writes every variant `[transforms]` makes in `lane` to `out` (JSONL, with
/// `origin` and `transform`), the built-in chains' first and then each
/// `[[transforms.exec]]` process's; returns how many.
pub fn expand(config_path: &Path, lane: Lane, out: &Path) -> Result<usize, Error> {
    let config = Config::load(config_path)?;
    super::check_out_file(out)?;
    let transforms = config.transforms.as_ref();
    let plan = transforms.and_then(|t| t.for_lane(lane));
    let processes = transforms.map(|t| t.exec.as_slice()).unwrap_or_default();
    if plan.is_none() && processes.is_empty() {
        return Err(Error::Usage(format!(
            "{} applies no transform in the {} lane: add a [transforms] table (user guide, \"Robustness and adaptive search\")",
            config_path.display(),
            lane.as_str()
        )));
    }
    let corpus = load_corpora(&config.corpora, &config.base)?;
    let bad = crate::transform::check_ids(&corpus.cases);
    if !bad.is_empty() {
        return Err(Error::Input(bad));
    }
    let mut variants = match plan {
        Some(plan) => crate::transform::variants(&corpus.cases, plan).map_err(Error::Input)?,
        None => Vec::new(),
    };
    let seed = transforms.map(|t| t.plan.seed).unwrap_or_default();
    for process in processes {
        variants.extend(process.run(&corpus.cases, seed).map_err(Error::Target)?);
    }
    write_atomic(out, |file| {
        let mut w = std::io::BufWriter::new(file);
        for v in &variants {
            serde_json::to_writer(&mut w, &v.to_corpus_line())?;
            w.write_all(b"\n")?;
        }
        w.flush()
    })?;
    Ok(variants.len())
}

/// Where `corpus expand` writes by default.
pub fn default_expand_path(config_path: &Path) -> PathBuf {
    config_path.parent().unwrap_or(Path::new(".")).join("corpora-expanded").join("variants.jsonl")
}
