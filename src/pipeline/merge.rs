//! `gauntlet merge`: shard results → the one verdict and its reports.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::judge::{Judging, ReplayFacts};
use super::progress::{total_bytes, with_progress, Step};
use super::run::RunOutput;
use crate::config::{load_fixtures, load_gates, load_waivers, Config};
use crate::errors::{Code, Diagnostic, Error};
use crate::hashing::sha256_hex;
use crate::progress::Progress;
use crate::replay::CaseResult;
use crate::report::Verdict;
use crate::stage_clock::StageClock;

/// One shard's saved output, read back by `merge`.
struct Shard {
    dir: PathBuf,
    verdict: Verdict,
    results: Vec<CaseResult>,
    fixture_results: Vec<CaseResult>,
}

fn read_shard(dir: &Path, progress: &dyn Progress) -> Result<Shard, Error> {
    let verdict_path = dir.join("verdict.json");
    if !verdict_path.exists() {
        return Err(
            Diagnostic::new(&verdict_path, Code::MissingShardFile, "no verdict.json in this shard folder").into()
        );
    }
    let verdict = Verdict::read(&verdict_path)?;
    let results = crate::report::results_file::read_results(&dir.join("results.jsonl"), progress)?;
    let fixture_path = dir.join("fixture-results.jsonl");
    let fixture_results = if fixture_path.exists() {
        crate::report::results_file::read_results(&fixture_path, progress)?
    } else {
        Vec::new()
    };
    Ok(Shard { dir: dir.to_path_buf(), verdict, results, fixture_results })
}

/// `gauntlet merge`: shard results → the single verdict and reports, judged
/// as if the run had not been split. Refuses a missing or duplicate shard,
/// shards of different configs, corpora, gates or targets, and a case seen
/// twice.
pub fn merge(
    dirs: &[PathBuf],
    config_path: &Path,
    out_dir: Option<&Path>,
    today: Option<NaiveDate>,
    history: &super::History,
    quiet: bool,
) -> Result<RunOutput, Error> {
    let today = super::resolve_today(today)?;
    let config = Config::load(config_path)?;
    let mut problems = Vec::new();
    let gates = load_gates(&config.gates, &mut problems);
    let fixtures = load_fixtures(&config.fixtures, &mut problems);
    let waivers = load_waivers(&config.waivers, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let reports_dir = out_dir.map(Path::to_path_buf).unwrap_or_else(|| config.reports.clone());
    super::check_reports_dir(&reports_dir, out_dir.is_some(), &config)?;
    let mut clock = StageClock::new("merge");
    let files: Vec<PathBuf> =
        dirs.iter().flat_map(|d| [d.join("results.jsonl"), d.join("fixture-results.jsonl")]).collect();
    let step = Step::bytes("reading shard results", total_bytes(&files));
    let shards: Vec<Shard> = with_progress(step, quiet, |progress| {
        use rayon::prelude::*;
        dirs.par_iter().map(|d| read_shard(d, progress)).collect::<Result<_, _>>()
    })?;
    clock.mark("read");
    let Some(first) = shards.first() else { return Err(Error::Usage("merge needs at least one shard folder".into())) };
    let count = match first.verdict.run.partition {
        Some(p) => p.count,
        None => {
            return Err(
                Diagnostic::new(&first.dir, Code::NotAShard, "this verdict comes from an unpartitioned run").into()
            )
        }
    };
    let mut seen_index = vec![None::<&Path>; count as usize];
    for s in &shards {
        let here = |code, msg: String| Diagnostic::new(&s.dir.join("verdict.json"), code, msg);
        let Some(p) = s.verdict.run.partition else {
            problems.push(here(Code::NotAShard, "this verdict comes from an unpartitioned run".into()));
            continue;
        };
        if p.count != count {
            problems.push(here(
                Code::ShardCountMismatch,
                format!("shard of {} parts, the first shard has {count}", p.count),
            ));
            continue;
        }
        if let Some(other) = seen_index[p.index as usize - 1] {
            problems.push(here(Code::DuplicateShard, format!("shard {p} is also in {}", other.display())));
        }
        seen_index[p.index as usize - 1] = Some(&s.dir);
        let (a, b) = (&s.verdict.run.hashes, &first.verdict.run.hashes);
        for (what, x, y) in [
            ("config", &a.config, &b.config),
            ("corpora", &a.corpora, &b.corpora),
            ("target", &a.target, &b.target),
            ("gates", &a.gates, &b.gates),
        ] {
            if x != y {
                problems.push(here(
                    Code::ShardMismatch,
                    format!("{what} hash differs from {}'s: shards of different runs", first.dir.display()),
                ));
            }
        }
        if s.verdict.run.lane != first.verdict.run.lane {
            problems.push(here(Code::ShardMismatch, "lane differs between shards".into()));
        }
    }
    for (i, s) in seen_index.iter().enumerate() {
        if s.is_none() {
            problems.push(Diagnostic::new(
                Path::new(&format!("shard {}/{count}", i + 1)),
                Code::MissingShard,
                "no folder holds this shard",
            ));
        }
    }
    if sha256_hex(config.text.as_bytes()) != first.verdict.run.hashes.config {
        problems.push(Diagnostic::new(
            config_path,
            Code::ShardMismatch,
            "the shards were run with a different version of this config",
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let lane = first.verdict.run.lane;
    let started = shards.iter().map(|s| s.verdict.run.started_at.clone()).min().unwrap_or_default();
    let started = chrono::DateTime::parse_from_rfc3339(&started)
        .map(|d| d.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let aborted = shards.iter().find_map(|s| s.verdict.run.aborted.clone());
    let fingerprint = first.verdict.run.target.clone();
    let corpus = first.verdict.corpora.clone();
    let corpora_hash = first.verdict.run.hashes.corpora.clone();
    let git_commit = first.verdict.run.git_commit.clone();
    let warnings = first.verdict.diagnostics.clone();
    // Corpus order: sort small (position, shard, index) keys, then move each
    // result once (sorting the 300-byte results themselves moved each ~20 times).
    let mut order: Vec<(Option<u64>, u32, u32)> = shards
        .iter()
        .enumerate()
        .flat_map(|(k, s)| s.results.iter().enumerate().map(move |(i, r)| (r.seq, k as u32, i as u32)))
        .collect();
    {
        use rayon::prelude::*;
        order.par_sort_unstable();
    }
    let mut fixture_results = Vec::new();
    let mut parts: Vec<Vec<Option<CaseResult>>> = Vec::with_capacity(shards.len());
    for s in shards {
        parts.push(s.results.into_iter().map(Some).collect());
        fixture_results.extend(s.fixture_results);
    }
    let mut results: Vec<CaseResult> = Vec::with_capacity(order.len());
    for (_, k, i) in order {
        results.push(parts[k as usize][i as usize].take().expect("each result is placed once"));
    }
    drop(parts);
    let ids: Vec<&str> = results.iter().map(|r| r.id.as_str()).collect();
    for (i, _) in crate::hashing::repeats(&ids) {
        problems.push(Diagnostic::new(
            Path::new(&results[i].id),
            Code::DuplicateCase,
            "this case id is in more than one shard",
        ));
    }
    drop(ids);
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    for r in results.iter_mut() {
        r.seq = None;
    }
    let judging =
        Judging { config: &config, gates: &gates, fixtures: &fixtures, waivers: &waivers, lane, today, bless: false };
    let facts = ReplayFacts {
        started,
        fingerprint,
        corpus,
        corpora_hash,
        git_commit,
        aborted,
        partition: None,
        extra_gates: Vec::new(),
        warnings,
    };
    let verdict =
        super::judge::judge_and_write(&judging, &results, &fixture_results, facts, &reports_dir, None, history)?;
    clock.mark("judged+written");
    Ok(RunOutput { verdict, results, reports_dir })
}
