//! Library error types. Input problems are collected as [`Diagnostic`]s so a
//! user sees every mistake in one run, not one per attempt.

use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::diagnostic_codes::Code;
use crate::exit_code;

/// Where something was defined: a file, and the line and column when the
/// parser knows them. Kept typed through validation, so a later check can
/// report at the right place without re-parsing a `path:line` string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Location {
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl Location {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Location { path: path.into(), line: None, column: None }
    }

    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// The line and column of a byte offset in the file's text.
    pub fn at_offset(mut self, source: &str, offset: usize) -> Self {
        let (line, column) = line_column(source, offset);
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// A diagnostic at this location.
    pub fn diagnostic(&self, code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic { path: self.path.clone(), line: self.line, column: self.column, code, message: message.into() }
    }
}

/// `path`, `path:line` or `path:line:column`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// One problem in an input file, located as precisely as the parser allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// A stable code from the catalogue, e.g. `duplicate-id`.
    pub code: Code,
    pub message: String,
}

impl Diagnostic {
    pub fn new(path: &Path, code: Code, message: impl Into<String>) -> Self {
        Diagnostic { path: path.to_path_buf(), line: None, column: None, code, message: message.into() }
    }

    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Locates the diagnostic at the key `path` of the file (or the nearest
    /// table above it that is written), for checks made after parsing.
    pub fn at_key(self, spans: &crate::toml_spans::TomlSpans, path: &[&str]) -> Self {
        match spans.locate(path) {
            Some((line, column)) => self.at(line, column),
            None => self,
        }
    }

    /// Locates a byte offset of `source` (the file's text) as line:column.
    pub fn at_offset(self, source: &str, offset: usize) -> Self {
        let (line, column) = line_column(source, offset);
        self.at(line, column)
    }
}

pub use crate::toml_spans::line_column;

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = Location { path: self.path.clone(), line: self.line, column: self.column };
        write!(f, "{at}: error[{}]: {}", self.code, self.message)
    }
}

impl Diagnostic {
    /// The diagnostic as a warning: `path:line: warning[code]: message`.
    /// Warnings are reported, recorded in the verdict, and never change the
    /// exit code.
    pub fn as_warning(&self) -> String {
        Warning::from(self).to_string()
    }
}

/// A warning as the verdict records it: where, which code, what. Every
/// renderer (the terminal, GitHub annotations) reads these fields, never a
/// rendered `path:line` string.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Warning {
    pub location: Location,
    pub code: Code,
    pub message: String,
}

/// `path:line:col: warning[code]: message`, as `check` prints it.
impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning[{}]: {}", self.location, self.code, self.message)
    }
}

impl From<&Diagnostic> for Warning {
    fn from(d: &Diagnostic) -> Warning {
        Warning {
            location: Location { path: d.path.clone(), line: d.line, column: d.column },
            code: d.code,
            message: d.message.clone(),
        }
    }
}

/// How many diagnostics are printed before the rest are summarised.
pub const DIAGNOSTIC_CAP: usize = 50;

/// Errors of the library. Each maps to one exit code (see [`Error::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid configuration, corpus, gate, waiver or fixture files.
    #[error("{}", render_diagnostics(.0))]
    Input(Vec<Diagnostic>),
    /// A command-line argument is invalid.
    #[error("{0}")]
    Usage(String),
    /// The target failed so that no honest verdict can be given.
    #[error("target error: {0}")]
    Target(String),
    /// Downloading a dataset failed (`gauntlet corpus fetch`).
    #[error("fetch failed: {0}")]
    Fetch(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) | Error::Usage(_) => exit_code::INPUT_ERROR,
            Error::Target(_) | Error::Fetch(_) | Error::Io { .. } => exit_code::TARGET_ERROR,
        }
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Self {
        Error::Input(vec![d])
    }
}

fn render_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics.iter().take(DIAGNOSTIC_CAP) {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    if diagnostics.len() > DIAGNOSTIC_CAP {
        out.push_str(&format!("... and {} more problems\n", diagnostics.len() - DIAGNOSTIC_CAP));
    }
    out.push_str(&format!("{} problem(s) found", diagnostics.len()));
    out
}

/// Converts a TOML parse error into a located diagnostic.
pub fn toml_diagnostic(path: &Path, source: &str, err: &toml::de::Error) -> Diagnostic {
    let d = Diagnostic::new(path, Code::InvalidToml, err.message().trim().to_string());
    match err.span() {
        Some(span) => d.at_offset(source, span.start),
        None => d,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
