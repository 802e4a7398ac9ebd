//! Transforms made by another process (`[[transforms.exec]]`): a
//! paraphraser, a translator, a model rewriting attacks. Such a process is
//! rarely deterministic, so it never runs inside `gauntlet run`; it runs
//! only in `gauntlet corpus expand`, whose output a team reviews and
//! commits, and every run then replays the same variants.
//!
//! Wire format: gauntlet writes each eligible case to the process's stdin
//! as its corpus JSONL line (`id`, `input`, `label`, `category`, ...), then
//! closes stdin. The process answers one line per case, in any order:
//! `{"id": "<case id>", "variants": ["text", ...]}`; an empty list makes no
//! variant. One variant gets the id `<id>#<name>`, several get
//! `<id>#<name>.1`, `<id>#<name>.2`, ... in the order given. The run seed is
//! in `GAUNTLET_SEED` for a process that samples.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde::Deserialize;

use crate::corpus::{Case, Label, Payload};

/// A validated `[[transforms.exec]]` entry.
#[derive(Debug, Clone)]
pub struct ExecTransform {
    pub name: String,
    /// Program and arguments, run in `dir`.
    pub command: Vec<String>,
    pub labels: Vec<Label>,
    pub dir: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    id: String,
    variants: Vec<String>,
}

impl ExecTransform {
    /// Whether the process is asked for a variant of `case`: an original
    /// with one text (a prompt or an egress response) and a chosen label.
    pub fn applies_to(&self, case: &Case) -> bool {
        case.transform.is_none() && matches!(case.payload, Payload::Text(_)) && self.labels.contains(&case.label)
    }

    /// Runs the process over the eligible `cases`; the variants come back
    /// in corpus order whatever order the process answered in. Any fault
    /// (it cannot start, exits non-zero, answers a case twice, never, or
    /// with a line that is not the wire format) is an error naming the
    /// transform and, for a bad answer, its output line.
    pub fn run(&self, cases: &[Case], seed: u64) -> Result<Vec<Case>, String> {
        let name = &self.name;
        let eligible: Vec<&Case> = cases.iter().filter(|c| self.applies_to(c)).collect();
        let mut child = Command::new(&self.command[0])
            .args(&self.command[1..])
            .current_dir(&self.dir)
            .env("GAUNTLET_SEED", seed.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("exec transform `{name}`: cannot start `{}`: {e}", self.command[0]))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let lines: Vec<serde_json::Value> = eligible.iter().map(|c| c.to_corpus_line()).collect();
        // Written from a thread: a process that answers as it reads would
        // otherwise fill its stdout pipe while we are still writing.
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            let mut w = BufWriter::new(stdin);
            for line in &lines {
                serde_json::to_writer(&mut w, line)?;
                w.write_all(b"\n")?;
            }
            w.flush()
        });
        let index: HashMap<&str, usize> = eligible.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect();
        let mut answers: Vec<Option<Vec<String>>> = vec![None; eligible.len()];
        let stdout = child.stdout.take().expect("piped stdout");
        let read = (|| {
            for (n, line) in BufReader::new(stdout).lines().enumerate() {
                let line = line.map_err(|e| format!("exec transform `{name}`: reading its output: {e}"))?;
                if line.trim().is_empty() {
                    continue;
                }
                let at = |msg: String| format!("exec transform `{name}`, output line {}: {msg}", n + 1);
                let answer: Answer = serde_json::from_str(&line).map_err(|e| {
                    at(format!("{e}; expected {{\"id\": \"<case id>\", \"variants\": [\"text\", ...]}}"))
                })?;
                let Some(&i) = index.get(answer.id.as_str()) else {
                    return Err(at(format!("answers `{}`, a case it was not sent", answer.id)));
                };
                if answers[i].replace(answer.variants).is_some() {
                    return Err(at(format!("answers `{}` twice", answer.id)));
                }
            }
            Ok(())
        })();
        if read.is_err() {
            let _ = child.kill();
        }
        let status = child.wait().map_err(|e| format!("exec transform `{name}`: {e}"))?;
        // A process that exits early closes the pipe; its status says why.
        let wrote = writer.join().expect("writer thread");
        read?;
        if !status.success() {
            return Err(format!("exec transform `{name}` exited with {status}"));
        }
        wrote.map_err(|e| format!("exec transform `{name}`: writing its input: {e}"))?;
        if let Some(i) = answers.iter().position(Option::is_none) {
            let missing = answers.iter().filter(|a| a.is_none()).count();
            return Err(format!(
                "exec transform `{name}` never answered case `{}` ({missing} of {} cases unanswered)",
                eligible[i].id,
                eligible.len()
            ));
        }
        let transform: Arc<str> = Arc::from(name.as_str());
        let mut out = Vec::new();
        for (case, texts) in eligible.iter().zip(answers) {
            let texts = texts.expect("checked above");
            let single = texts.len() == 1;
            for (k, text) in texts.into_iter().enumerate() {
                let id = if single { format!("{}#{name}", case.id) } else { format!("{}#{name}.{}", case.id, k + 1) };
                out.push(Case {
                    id,
                    payload: Payload::Text(text),
                    transform: Some(transform.clone()),
                    variant_of: Some(case.id.clone()),
                    ..(*case).clone()
                });
            }
        }
        Ok(out)
    }
}
