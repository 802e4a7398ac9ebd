//! The run journal: each case's outcome, appended as it arrives, so a run
//! cut off (Ctrl-C, a CI timeout, SIGKILL, a spent budget) continues with
//! `gauntlet run --resume`, replaying only the cases without one.
//!
//! Why a separate file and not `results.jsonl`: reports are written whole
//! and renamed into place, so a half-finished run never leaves a report a
//! reader could mistake for a finished one. The journal is the opposite, an
//! append-only log, and lives outside the reports folder
//! (`.gauntlet/journal-<lane>.jsonl` beside the config).
//!
//! Its first line is the run's key: hashes of the config, corpora, gate
//! files, target and the exact list of replayed cases, the lane and the
//! repeat count. A resume whose key differs is refused, naming what changed:
//! outcomes recorded against other inputs would make a verdict nobody ran.
//! A recorded target error is an outcome like any other and is kept.
//!
//! Lines are flushed at least every 50 ms, so a kill loses at most that
//! much work (it is replayed on resume); a last line cut short by the kill is
//! dropped (the file is cut back to its last whole line), any other
//! unreadable line is an error.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{AbortRule, AbortWatch};
use crate::corpus::{Case, Decision};
use crate::errors::{Code, Diagnostic, Error};
use crate::hashing::Fingerprint;
use crate::progress::Progress;
use crate::targets::{CaseError, Outcome, ReplayProgress};

const FORMAT: u32 = 1;
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// What a journal's outcomes were recorded against, part by part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunKey(BTreeMap<String, String>);

/// The inputs a run key is made of.
pub struct KeyInputs<'a> {
    pub config_text: &'a str,
    pub corpora_hash: &'a str,
    pub gate_files: Vec<&'a Path>,
    pub target_hash: &'a str,
    pub cases: &'a [Case],
    /// The lane's name (`preflight`, `full`).
    pub lane: &'a str,
    pub repeat: u32,
}

impl RunKey {
    pub fn new(inputs: &KeyInputs) -> Result<RunKey, Error> {
        let mut parts = BTreeMap::new();
        parts.insert("config".into(), crate::hashing::sha256_hex(inputs.config_text.as_bytes()));
        parts.insert("corpus".into(), inputs.corpora_hash.to_string());
        let mut gates = Fingerprint::new();
        let mut files = inputs.gate_files.clone();
        files.sort();
        files.dedup();
        for file in files {
            let text = std::fs::read(file).map_err(|e| Error::io(file, e))?;
            // The name, not the path: a checkout moved elsewhere still resumes.
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            gates.part(name.as_bytes()).part(&text);
        }
        parts.insert("gates".into(), gates.finish());
        parts.insert("target".into(), inputs.target_hash.to_string());
        // Transforms, tenants, a partition and fixture inputs all change
        // this list, whether or not they show in another part.
        let mut cases = Fingerprint::new();
        for case in inputs.cases {
            let payload = serde_json::to_vec(&case.payload).expect("payload serialises");
            cases.part(case.id.as_bytes()).part(&payload);
        }
        parts.insert("cases".into(), cases.finish());
        parts.insert("lane".into(), inputs.lane.to_string());
        parts.insert("repeat".into(), inputs.repeat.max(1).to_string());
        Ok(RunKey(parts))
    }

    /// The parts that differ, named as a person would.
    fn changed(&self, recorded: &RunKey) -> Vec<String> {
        let keys: std::collections::BTreeSet<&String> = self.0.keys().chain(recorded.0.keys()).collect();
        keys.into_iter()
            .filter(|k| self.0.get(*k) != recorded.0.get(*k))
            .map(|k| match k.as_str() {
                "config" => "the config file".to_string(),
                "corpus" => "the corpora".to_string(),
                "gates" => "the gate files".to_string(),
                "target" => "the target".to_string(),
                "cases" => "the replayed cases (transforms, tenants, partition or fixture inputs)".to_string(),
                "lane" | "repeat" => format!("--{k} (recorded {})", recorded.0.get(k).map_or("-", |v| v.as_str())),
                other => other.to_string(),
            })
            .collect()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Header {
    gauntlet_journal: u32,
    key: RunKey,
}

/// One outcome line.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Entry {
    round: u32,
    case: usize,
    /// This line replaces an outcome the run already journaled for the
    /// case (a target may re-report one, e.g. an answer after a timeout).
    /// Without it a repeated case is an error: a journal edited or
    /// concatenated by hand must not decide by whichever line came last.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    revises: bool,
    decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<CaseError>,
    score: Option<f64>,
    reasons: Vec<Arc<str>>,
    latency_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_latency_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue_us: Option<u64>,
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blocked_at_turn: Option<u32>,
}

impl Entry {
    fn new(round: u32, case: usize, revises: bool, o: &Outcome) -> Entry {
        Entry {
            round,
            case,
            revises,
            decision: o.decision.as_ref().ok().copied(),
            error: o.decision.as_ref().err().cloned(),
            score: o.score,
            reasons: o.reasons.clone(),
            latency_us: o.latency_us,
            target_latency_us: o.target_latency_us,
            queue_us: o.queue_us,
            attempts: o.attempts,
            blocked_at_turn: o.blocked_at_turn,
        }
    }

    fn into_outcome(self) -> Option<Outcome> {
        let decision = match (self.decision, self.error) {
            (Some(d), None) => Ok(d),
            (None, Some(e)) => Err(e),
            _ => return None,
        };
        Some(Outcome {
            decision,
            score: self.score,
            reasons: self.reasons,
            latency_us: self.latency_us,
            target_latency_us: self.target_latency_us,
            queue_us: self.queue_us,
            attempts: self.attempts,
            blocked_at_turn: self.blocked_at_turn,
        })
    }
}

/// Where a run's journal lives: beside the config, one per lane and shard.
pub fn journal_path(base: &Path, lane: &str, shard: Option<crate::partition::Partition>) -> PathBuf {
    let mut name = format!("journal-{lane}");
    if let Some(p) = shard {
        name.push_str(&format!("-shard-{}-of-{}", p.index, p.count));
    }
    base.join(".gauntlet").join(format!("{name}.jsonl"))
}

/// An open journal, appended to from replay threads.
pub struct Journal {
    path: PathBuf,
    out: Mutex<(std::io::BufWriter<std::fs::File>, Instant)>,
    /// Outcomes already recorded, per round and case.
    recorded: Vec<Vec<Option<Outcome>>>,
    /// Which (round, case) has a line in the file, so a second one is
    /// marked as a revision.
    written: Vec<Vec<std::sync::atomic::AtomicBool>>,
}

fn written_flags(recorded: &[Vec<Option<Outcome>>]) -> Vec<Vec<std::sync::atomic::AtomicBool>> {
    recorded.iter().map(|r| r.iter().map(|o| std::sync::atomic::AtomicBool::new(o.is_some())).collect()).collect()
}

impl Journal {
    /// A fresh journal for a run that starts from the beginning.
    pub fn create(path: &Path, key: &RunKey, cases: usize, repeat: u32) -> Result<Journal, Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = std::io::BufWriter::new(file);
        let header = Header { gauntlet_journal: FORMAT, key: key.clone() };
        serde_json::to_writer(&mut out, &header).expect("header serialises");
        out.write_all(b"\n").and_then(|_| out.flush()).map_err(|e| Error::io(path, e))?;
        let recorded = vec![vec![None; cases]; repeat.max(1) as usize];
        let written = written_flags(&recorded);
        Ok(Journal { path: path.to_path_buf(), out: Mutex::new((out, Instant::now())), recorded, written })
    }

    /// The journal of an interrupted run with this key, its outcomes loaded.
    pub fn resume(path: &Path, key: &RunKey, cases: usize, repeat: u32) -> Result<Journal, Error> {
        let mut file = std::fs::File::open(path).map_err(|e| {
            Error::Usage(format!(
                "nothing to resume: {} ({e}); a run journals its outcomes there only for exec and http targets",
                path.display()
            ))
        })?;
        let bad = |line: usize, message: String| {
            Error::from(Diagnostic::new(path, Code::UnreadableJournal, message).at_line(line))
        };
        let mut recorded = vec![vec![None; cases]; repeat.max(1) as usize];
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut text).map_err(|e| Error::io(path, e))?;
        // Only whole lines count: a last line without its newline was cut
        // short by the kill that interrupted the run, and is dropped.
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1);
        let mut lines = text[..whole].split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate();
        let header: Header = match lines.next() {
            Some((_, line)) => {
                serde_json::from_slice(line).map_err(|e| bad(1, format!("not a journal header: {e}")))?
            }
            None => return Err(bad(1, "empty journal".into())),
        };
        if header.gauntlet_journal != FORMAT {
            return Err(bad(1, format!("journal format {} (this gauntlet writes {FORMAT})", header.gauntlet_journal)));
        }
        let changed = key.changed(&header.key);
        if !changed.is_empty() {
            return Err(Error::from(Diagnostic::new(
                path,
                Code::JournalMismatch,
                format!(
                    "cannot resume: {} changed since the interrupted run; run without --resume to start over",
                    changed.join(", ")
                ),
            )));
        }
        for (i, line) in lines {
            let entry =
                serde_json::from_slice::<Entry>(line).map_err(|e| bad(i + 1, format!("unreadable outcome: {e}")))?;
            let (round, case, revises) = (entry.round as usize, entry.case, entry.revises);
            let slot = recorded.get_mut(round).and_then(|r| r.get_mut(case));
            match (slot, entry.into_outcome()) {
                (Some(slot), Some(_)) if slot.is_some() && !revises => {
                    return Err(bad(
                        i + 1,
                        format!("case {case} of round {round} is journaled twice (the second line is not marked `revises`): the journal was edited or joined; run without --resume to start over"),
                    ))
                }
                (Some(slot), Some(outcome)) => *slot = Some(outcome),
                _ => return Err(bad(i + 1, format!("no case {case} in round {round}, or no decision nor error"))),
            }
        }
        drop(file);
        let file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
        file.set_len(whole as u64).map_err(|e| Error::io(path, e))?;
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
        let out = std::io::BufWriter::new(file);
        let written = written_flags(&recorded);
        Ok(Journal { path: path.to_path_buf(), out: Mutex::new((out, Instant::now())), recorded, written })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Case-rounds that already have an outcome.
    pub fn recorded_count(&self) -> u64 {
        self.recorded.iter().flatten().filter(|o| o.is_some()).count() as u64
    }

    /// Takes round `round`'s recorded outcomes (`None`: replay that case).
    pub fn take_round(&mut self, round: u32) -> Vec<Option<Outcome>> {
        std::mem::take(&mut self.recorded[round as usize])
    }

    fn append(&self, round: u32, case: usize, outcome: &Outcome) {
        let revises = self.written[round as usize][case].swap(true, std::sync::atomic::Ordering::Relaxed);
        let mut line = serde_json::to_vec(&Entry::new(round, case, revises, outcome)).expect("entry serialises");
        line.push(b'\n');
        let mut out = self.out.lock().expect("journal lock");
        // A journal that cannot be written only costs the resume: the run
        // itself goes on, and `finish` reports the failure.
        let _ = out.0.write_all(&line);
        if out.1.elapsed() >= FLUSH_EVERY {
            let _ = out.0.flush();
            out.1 = Instant::now();
        }
    }

    pub fn flush(&self) -> Result<(), Error> {
        self.out.lock().expect("journal lock").0.flush().map_err(|e| Error::io(&self.path, e))
    }

    /// The run finished with an honest verdict: nothing left to resume.
    pub fn remove(self) -> Result<(), Error> {
        drop(self.out);
        std::fs::remove_file(&self.path).map_err(|e| Error::io(&self.path, e))
    }
}

/// How many requests a run may still send (`max-requests`, `max-cost` ÷
/// `cost`); shared by every connection and every round.
#[derive(Debug, Default)]
pub struct RequestMeter {
    limit: Option<u64>,
    sent: AtomicU64,
    stopped: AtomicBool,
}

impl RequestMeter {
    pub fn new(limit: Option<u64>) -> RequestMeter {
        RequestMeter { limit, sent: AtomicU64::new(0), stopped: AtomicBool::new(false) }
    }

    fn reserve(&self, n: u64) -> u64 {
        let Some(limit) = self.limit else {
            self.sent.fetch_add(n, Ordering::Relaxed);
            return n;
        };
        let mut sent = self.sent.load(Ordering::Relaxed);
        loop {
            let granted = n.min(limit.saturating_sub(sent));
            match self.sent.compare_exchange_weak(sent, sent + granted, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    if granted < n {
                        self.stopped.store(true, Ordering::Relaxed);
                    }
                    return granted;
                }
                Err(now) => sent = now,
            }
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

/// The meter alone, for requests outside a replay (the health probe).
impl Progress for RequestMeter {
    fn advance(&self, _: u64) {}
}

impl ReplayProgress for RequestMeter {
    fn reserve(&self, n: u64) -> u64 {
        RequestMeter::reserve(self, n)
    }
    fn stopped(&self) -> bool {
        RequestMeter::stopped(self)
    }
}

/// The progress a target reports into during a journaled round: outcomes go
/// to the journal under the case's index in the whole run, requests are
/// metered, the rest passes through.
pub struct JournalSink<'a> {
    pub inner: &'a dyn Progress,
    pub journal: &'a Journal,
    pub meter: &'a RequestMeter,
    pub round: u32,
    /// Index in the run of each case in the replayed slice.
    pub positions: &'a [usize],
    /// The abort rule, judged as outcomes arrive.
    pub watch: &'a AbortWatch,
}

impl Progress for JournalSink<'_> {
    fn advance(&self, n: u64) {
        self.inner.advance(n)
    }
    fn failed(&self, n: u64) {
        self.inner.failed(n)
    }
    fn set_total(&self, n: u64) {
        self.inner.set_total(n)
    }
}

impl ReplayProgress for JournalSink<'_> {
    fn outcome(&self, case: usize, outcome: &Outcome) {
        self.journal.append(self.round, self.positions[case], outcome);
        self.watch.observe(self.round, self.positions[case], outcome);
    }
    fn halted(&self) -> Option<String> {
        self.watch.holds()
    }
    fn reserve(&self, n: u64) -> u64 {
        self.meter.reserve(n)
    }
    fn stopped(&self) -> bool {
        self.meter.stopped()
    }
}

/// Replays `cases` `n` times through `target` with every outcome journaled
/// and every request metered; what the journal already holds is not sent
/// again. The journal is flushed however the replay ends. The abort rule
/// is judged as outcomes arrive (those recorded before included), and stops
/// the replay the moment it holds.
#[allow(clippy::too_many_arguments)]
pub fn replay_journaled(
    target: &dyn crate::targets::Target,
    cases: Vec<Case>,
    n: u32,
    severity: super::Severity,
    progress: &dyn Progress,
    journal: &mut Journal,
    meter: &RequestMeter,
    abort: AbortRule,
) -> Result<super::ReplayOutput, Error> {
    let mut rounds: Vec<Vec<Option<Outcome>>> = (0..n.max(1)).map(|r| journal.take_round(r)).collect();
    let watch = AbortWatch::new(abort, cases.len(), n);
    for (round, outcomes) in rounds.iter().enumerate() {
        for (case, outcome) in outcomes.iter().enumerate() {
            if let Some(outcome) = outcome {
                watch.observe(round as u32, case, outcome);
            }
        }
    }
    let watch = &watch;
    progress.advance(rounds.iter().flatten().filter(|o| o.is_some()).count() as u64);
    let journal = &*journal;
    let result = super::replay_rounds(cases, n, severity, &mut |round, cases| {
        let mut known = std::mem::take(&mut rounds[round as usize]);
        let positions: Vec<usize> = (0..cases.len()).filter(|&i| known[i].is_none()).collect();
        let sink = JournalSink { inner: progress, journal, meter, round, positions: &positions, watch };
        let replayed = if positions.is_empty() {
            crate::targets::Replayed { outcomes: Vec::new(), aborted: None }
        } else if positions.len() == cases.len() {
            target.replay(cases, &sink)?
        } else {
            let left: Vec<Case> = positions.iter().map(|&i| cases[i].clone()).collect();
            target.replay(&left, &sink)?
        };
        if replayed.outcomes.len() != positions.len() {
            return Err(Error::Target(format!(
                "target returned {} outcomes for {} cases",
                replayed.outcomes.len(),
                positions.len()
            )));
        }
        for (i, outcome) in positions.into_iter().zip(replayed.outcomes) {
            known[i] = Some(outcome);
        }
        let outcomes = known.into_iter().map(|o| o.expect("recorded or replayed")).collect();
        Ok(crate::targets::Replayed { outcomes, aborted: replayed.aborted })
    });
    journal.flush()?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(decision: Result<Decision, CaseError>) -> Outcome {
        Outcome {
            decision,
            score: Some(0.1 + 0.2),
            reasons: vec![Arc::from("r")],
            latency_us: 7,
            target_latency_us: None,
            queue_us: None,
            attempts: 2,
            blocked_at_turn: None,
        }
    }

    fn key(config: &str) -> RunKey {
        RunKey(BTreeMap::from([("config".to_string(), config.to_string())]))
    }

    #[test]
    fn recorded_outcomes_come_back_exactly_and_a_torn_last_line_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let journal = Journal::create(&path, &key("a"), 3, 1).unwrap();
        let error = CaseError { kind: crate::targets::ErrorKind::Timeout, message: "slow".into() };
        journal.append(0, 0, &outcome(Ok(Decision::Block)));
        journal.append(0, 2, &outcome(Err(error.clone())));
        journal.flush().unwrap();
        drop(journal);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"round\":0,\"case\":1,\"deci");
        std::fs::write(&path, text).unwrap();
        let mut resumed = Journal::resume(&path, &key("a"), 3, 1).unwrap();
        assert_eq!(resumed.recorded_count(), 2);
        let round = resumed.take_round(0);
        assert_eq!(round[0], Some(outcome(Ok(Decision::Block))));
        assert_eq!(round[1], None);
        assert_eq!(round[2], Some(outcome(Err(error))), "a recorded error is an outcome");
        // The torn line is gone: what follows is read back whole.
        resumed.append(0, 1, &outcome(Ok(Decision::Allow)));
        resumed.flush().unwrap();
        drop(resumed);
        assert_eq!(Journal::resume(&path, &key("a"), 3, 1).unwrap().recorded_count(), 3);
    }

    /// Regression (#37): a journal holding the same case twice (the second
    /// changed, as by an edit or two journals joined) resumed with the later
    /// line winning, and a golden gate flipped.
    #[test]
    fn a_case_journaled_twice_is_an_error_unless_marked_as_a_revision() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let journal = Journal::create(&path, &key("a"), 2, 1).unwrap();
        journal.append(0, 0, &outcome(Ok(Decision::Block)));
        // The run itself re-reports case 0: the line says it revises.
        journal.append(0, 0, &outcome(Ok(Decision::Allow)));
        journal.flush().unwrap();
        drop(journal);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().nth(2).unwrap().contains("\"revises\":true"), "{text}");
        let mut resumed = Journal::resume(&path, &key("a"), 2, 1).unwrap();
        assert_eq!(resumed.take_round(0)[0], Some(outcome(Ok(Decision::Allow))));
        drop(resumed);
        // The same line pasted in again, unmarked: refused at its line.
        let first = text.lines().nth(1).unwrap().to_string();
        std::fs::write(&path, format!("{text}{first}\n")).unwrap();
        let err = Journal::resume(&path, &key("a"), 2, 1).err().unwrap().to_string();
        assert!(err.contains("j.jsonl:4") && err.contains("journaled twice"), "{err}");
    }

    #[test]
    fn a_changed_key_refuses_to_resume_naming_the_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        drop(Journal::create(&path, &key("a"), 1, 1).unwrap());
        let err = Journal::resume(&path, &key("b"), 1, 1).err().unwrap().to_string();
        assert!(err.contains("journal-mismatch") && err.contains("the config file changed"), "{err}");
    }

    #[test]
    fn the_meter_grants_up_to_its_limit_then_stops() {
        let meter = RequestMeter::new(Some(10));
        assert_eq!(meter.reserve(1), 1);
        assert_eq!(meter.reserve(4), 4);
        assert!(!meter.stopped());
        assert_eq!(meter.reserve(8), 5);
        assert!(meter.stopped());
        assert_eq!(meter.reserve(1), 0);
        assert_eq!(meter.sent(), 10);
        let unlimited = RequestMeter::new(None);
        assert_eq!(unlimited.reserve(1_000), 1_000);
        assert!(!unlimited.stopped());
    }
}
