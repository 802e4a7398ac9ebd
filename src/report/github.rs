//! GitHub Actions output: annotations at the offending line, and a shield
//! against workflow-command injection.
//!
//! Why annotations: a red job whose log must be read to find the failing
//! gate wastes a reviewer's time; GitHub shows `::error file=…,line=…::`
//! lines on the pull request's diff and on the run's summary. It shows only
//! the first few of a step, so blocking gates come first.
//!
//! Why a shield: case texts, target reasons and error messages are hostile.
//! The runner reads every line a step prints, and a line starting with `::`
//! is a command (`::add-mask::`, `::error::`, the deprecated `::set-output`).
//! Under `GITHUB_ACTIONS`, gauntlet therefore prints
//! `::stop-commands::<token>` before anything else and `::<token>::` after
//! (the token random per process, so a payload cannot end the block), and
//! its own annotations only after the block closes, with every field
//! escaped so a message cannot become a second line.

use std::path::{Path, PathBuf};

use super::Verdict;
use crate::errors::{Diagnostic, Location};
use crate::evaluate::{GateStatus, WaiverStatus};

/// How severe an annotation is (GitHub's `error`, `warning`, `notice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub level: Level,
    /// Relative to the repository root.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub title: String,
    pub message: String,
}

/// A command's message: `%`, CR and LF escaped (what GitHub unescapes).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A property value (file, title): also `:` and `,`, which end it.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

impl Annotation {
    pub fn render(&self) -> String {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        };
        let mut props = Vec::new();
        if let Some(file) = &self.file {
            props.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = self.line {
            props.push(format!("line={line}"));
        }
        if let Some(column) = self.column {
            props.push(format!("col={column}"));
        }
        props.push(format!("title={}", escape_property(&self.title)));
        format!("::{level} {}::{}", props.join(","), escape_data(&self.message))
    }
}

/// Where paths in annotations are relative to: `GITHUB_WORKSPACE`, else the
/// nearest folder above `start` holding `.git`, else `start`.
pub fn repository_root(start: &Path) -> PathBuf {
    if let Some(ws) = std::env::var_os("GITHUB_WORKSPACE").filter(|w| !w.is_empty()) {
        return PathBuf::from(ws);
    }
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    start.ancestors().find(|d| d.join(".git").exists()).unwrap_or(&start).to_path_buf()
}

/// `path` (relative to `base`, or absolute) relative to `root`.
fn relative(path: &Path, base: &Path, root: &Path) -> String {
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    let absolute = std::fs::canonicalize(&joined).unwrap_or(joined);
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let shown = absolute.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(absolute);
    shown.to_string_lossy().replace('\\', "/")
}

/// Where a gate or waiver was defined: its structured location; a verdict
/// written before locations were recorded gives only `path:line`, split.
fn place(location: Option<&Location>, defined_at: &str) -> (PathBuf, Option<usize>, Option<usize>) {
    if let Some(l) = location {
        return (l.path.clone(), l.line, l.column);
    }
    match defined_at.rsplit_once(':') {
        Some((path, line)) if line.parse::<usize>().is_ok() => (PathBuf::from(path), line.parse().ok(), None),
        _ => (PathBuf::from(defined_at), None, None),
    }
}

/// A run's annotations: failing or inconclusive gates at their gate file
/// line (blocking ones as errors, first), and waivers that are expired or
/// invalid (errors) or expire soon (warnings) at the waiver's line.
/// `base`: the folder `defined-at` paths are relative to (the config's).
pub fn run_annotations(v: &Verdict, base: &Path, root: &Path) -> Vec<Annotation> {
    let mut out = Vec::new();
    for g in &v.gates {
        if !matches!(g.status, GateStatus::Fail | GateStatus::Inconclusive | GateStatus::Error) {
            continue;
        }
        let view = g.view();
        let (path, line, column) = place(g.location.as_ref(), &g.defined_at);
        let interval = view
            .interval
            .map(|i| {
                // A verdict written before gates carried their confidence: the run's.
                let confidence = view
                    .confidence
                    .clone()
                    .unwrap_or_else(|| crate::metrics::interval::percent_label(v.run.counting.confidence));
                format!(" ({confidence} interval {i})")
            })
            .unwrap_or_default();
        out.push(Annotation {
            level: if g.blocking { Level::Error } else { Level::Warning },
            file: Some(relative(&path, base, root)),
            line,
            column,
            title: format!("gauntlet gate {} {}", g.id, view.status),
            message: format!(
                "{}: {}{interval}, threshold {}, {} samples{}",
                g.id,
                view.value,
                view.threshold,
                g.samples,
                if view.note.is_empty() { String::new() } else { format!("; {}", view.note) }
            ),
        });
    }
    for w in &v.waivers.waivers {
        let level = match w.status {
            WaiverStatus::Expired | WaiverStatus::Invalid => Level::Error,
            WaiverStatus::ExpiringSoon => Level::Warning,
            _ => continue,
        };
        let (path, line, column) = place(w.location.as_ref(), &w.defined_at);
        let when = match w.days_remaining {
            Some(d) if d >= 0 => format!("expires in {d} day(s)"),
            Some(d) => format!("expired {} day(s) ago", -d),
            None => crate::evaluate::status_name(w.status).to_string(),
        };
        out.push(Annotation {
            level,
            file: Some(relative(&path, base, root)),
            line,
            column,
            title: format!("gauntlet waiver {}", w.id),
            message: format!("waiver {} {when}; {}", w.id, w.detail.join("; ")),
        });
    }
    // Input warnings (a filter matching nothing, conflicting labels), as
    // `check` shows them; their paths are as the run named them (from where
    // it ran), like an input error's.
    let here = std::env::current_dir().unwrap_or_default();
    for w in &v.diagnostics {
        out.push(Annotation {
            level: Level::Warning,
            file: Some(relative(&w.location.path, &here, root)),
            line: w.location.line,
            column: w.location.column,
            title: format!("gauntlet {}", w.code.as_str()),
            message: w.message.clone(),
        });
    }
    // Stable: errors (blocking gates) before warnings, then file order.
    out.sort_by_key(|a| a.level);
    out
}

/// Input problems (exit 2: `Level::Error`) or warnings at their
/// file:line:column.
pub fn diagnostic_annotations(diagnostics: &[Diagnostic], level: Level, root: &Path) -> Vec<Annotation> {
    let here = std::env::current_dir().unwrap_or_default();
    diagnostics
        .iter()
        .map(|d| Annotation {
            level,
            file: Some(relative(&d.path, &here, root)),
            line: d.line,
            column: d.column,
            title: format!("gauntlet {}", d.code.as_str()),
            message: d.message.clone(),
        })
        .collect()
}

/// The stop-commands block around everything a process prints under
/// GitHub Actions.
pub struct Shield {
    token: String,
}

impl Shield {
    /// A shield when running under GitHub Actions (`GITHUB_ACTIONS=true`).
    pub fn from_env() -> Option<Shield> {
        (std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")).then(|| Shield { token: random_token() })
    }

    pub fn begin(&self) -> String {
        format!("::stop-commands::{}", self.token)
    }

    pub fn end(&self) -> String {
        format!("::{}::", self.token)
    }
}

/// 128 random bits as hex, from the OS (a payload must not guess it).
fn random_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_ok();
    if !from_os {
        // No /dev/urandom (Windows): the clock's nanoseconds, the process id
        // and a stack address, hashed; unknown to a payload written earlier.
        let seed = format!("{:?}{}{:p}", std::time::SystemTime::now(), std::process::id(), &bytes as *const _);
        bytes.copy_from_slice(&crate::hashing::sha256_hex(seed.as_bytes()).as_bytes()[..16]);
    }
    crate::hashing::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_escaped_so_a_message_stays_one_command() {
        let a = Annotation {
            level: Level::Error,
            file: Some("gates/a,b:c.toml".into()),
            line: Some(3),
            column: Some(7),
            title: "t: x".into(),
            message: "100% bad\n::add-mask::secret\r\n".into(),
        };
        assert_eq!(
            a.render(),
            "::error file=gates/a%2Cb%3Ac.toml,line=3,col=7,title=t%3A x::100%25 bad%0A::add-mask::secret%0D%0A"
        );
    }

    #[test]
    fn tokens_differ_and_are_long() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
