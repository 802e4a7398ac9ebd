//! `fixtures/*.toml`: expectation suites, one per file (the file stem names
//! the suite). `fixtures/golden/` holds decision snapshots, not suites.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use crate::corpus::{Decision, Payload};
use crate::errors::{line_column, toml_diagnostic, Code, Diagnostic, Location};
use crate::evaluate::{FixtureCase, FixtureInput, FixtureSuite};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSuite {
    /// Each `[[case]]`: one input and the decision it must get.
    #[serde(default)]
    #[schemars(with = "Vec<RawCase>")]
    case: Vec<toml::Spanned<RawCase>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCase {
    /// Names the case in reports and trials; defaults to `ref`, else `case-N`.
    name: Option<String>,
    #[schemars(with = "Option<serde_json::Value>")]
    /// The input: text, or a table for a structured request (one of `input` and `ref`).
    input: Option<toml::Value>,
    #[serde(rename = "ref")]
    /// The id of a corpus case whose input to use (one of `input` and `ref`).
    reference: Option<String>,
    expect: Decision,
    #[serde(default)]
    /// Why the case is here.
    note: String,
    #[serde(default)]
    /// The issue behind it.
    tracking: String,
}

pub fn load_fixtures(dir: &Path, problems: &mut Vec<Diagnostic>) -> Vec<FixtureSuite> {
    let mut suites = Vec::new();
    for (path, text) in super::toml_files(dir, problems) {
        let raw: RawSuite = match toml::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                problems.push(toml_diagnostic(&path, &text, &e));
                continue;
            }
        };
        let suite_name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let mut names = HashSet::new();
        let mut cases = Vec::new();
        for (i, spanned) in raw.case.into_iter().enumerate() {
            let span = spanned.span();
            let c = spanned.into_inner();
            let (line, _) = line_column(&text, span.start);
            let here = |code, msg: String| Diagnostic::new(&path, code, msg).at_offset(&text, span.start);
            let input = match (c.input, &c.reference) {
                (Some(toml::Value::String(s)), None) => FixtureInput::Input(Payload::Text(s)),
                (Some(toml::Value::Table(t)), None) => match serde_json::to_value(t) {
                    Ok(serde_json::Value::Object(o)) => FixtureInput::Input(Payload::Structured(o)),
                    _ => {
                        problems
                            .push(here(Code::InvalidInput, "fixture input table cannot be represented as JSON".into()));
                        continue;
                    }
                },
                (Some(_), None) => {
                    problems.push(here(Code::InvalidInput, "fixture `input` must be a string or a table".into()));
                    continue;
                }
                (None, Some(r)) => FixtureInput::Ref(r.clone()),
                _ => {
                    problems
                        .push(here(Code::InputOrRef, "a fixture case needs exactly one of `input` or `ref`".into()));
                    continue;
                }
            };
            let name = c.name.or(c.reference).unwrap_or_else(|| format!("case-{}", i + 1));
            if !names.insert(name.clone()) {
                problems.push(here(
                    Code::DuplicateFixtureCase,
                    format!("fixture case `{name}` appears twice in this suite"),
                ));
            }
            cases.push(FixtureCase {
                name,
                input,
                expect: c.expect,
                note: c.note,
                tracking: c.tracking,
                defined_at: Location::new(&path).at_line(line),
            });
        }
        suites.push(FixtureSuite { name: suite_name, path: path.display().to_string(), cases });
    }
    suites
}
