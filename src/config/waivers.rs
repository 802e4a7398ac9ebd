//! `waivers/*.toml`: `[[waiver]]` entries parsed field by field, so that a
//! broken waiver becomes an `invalid` waiver with a located diagnostic per
//! rule, never a silently skipped one. Only a file that is not TOML at all
//! stops the run (exit 2).

use std::path::Path;

use chrono::NaiveDate;

use crate::errors::{line_column, toml_diagnostic, Code, Diagnostic, Location};
use crate::evaluate::{locate_key, Scope, Waiver, WaiverTarget};
use crate::toml_spans::TomlSpans;

const REQUIRED: &[&str] = &["id", "owner", "created", "expires", "tracking", "reason", "scope", "remove-when"];
const OPTIONAL: &[&str] = &["gate", "case", "approver"];

/// Each key of a `[[waiver]]` table and what it means. Waivers are read
/// key by key (a broken one is reported, never skipped), so their keys are
/// listed here; a test checks this covers REQUIRED and OPTIONAL exactly.
const KEY_DOCS: &[(&str, &str, &str)] = &[
    ("id", "string", "Unique id of the waiver, quoted in reports."),
    ("owner", "string", "Who answers for it (an email or a handle)."),
    ("created", "date string `\"YYYY-MM-DD\"`", "The day it was written."),
    (
        "expires",
        "date string `\"YYYY-MM-DD\"`",
        "Its last day: at most `[waiver-policy] max-days` (30) after `created`; an expired waiver fails CI.",
    ),
    ("tracking", "string", "The issue that tracks the fix."),
    ("reason", "string", "Why the failure is accepted for now."),
    ("scope", "string", "What it covers, in words (a lane, a category, a dataset)."),
    ("remove-when", "string", "The condition for deleting it."),
    ("gate", "string", "The gate id it waives (one of `gate` and `case`)."),
    ("case", "string", "The fixture case it waives, `suite/case` (one of `gate` and `case`)."),
    ("approver", "string", "Who approved it, when the policy asks for a second person."),
];

/// The keys of a `[[waiver]]` table for the configuration reference.
pub(super) fn key_docs() -> Vec<super::reference::KeyDoc> {
    KEY_DOCS
        .iter()
        .map(|(key, kind, meaning)| super::reference::KeyDoc {
            path: format!("[[waiver]].{key}"),
            kind: format!("{kind}{}", if REQUIRED.contains(key) { ", required" } else { "" }),
            default: None,
            meaning: Some(meaning.to_string()),
        })
        .collect()
}

pub fn load_waivers(dir: &Path, problems: &mut Vec<Diagnostic>) -> Vec<Waiver> {
    let mut waivers = Vec::new();
    for (path, text) in super::toml_files(dir, problems) {
        match parse_waivers(&path, &text) {
            Ok(mut w) => waivers.append(&mut w),
            Err(d) => problems.push(d),
        }
    }
    waivers
}

/// The top level must be `[[waiver]]` tables; anything else is a syntax-level error.
pub fn parse_waivers(path: &Path, text: &str) -> Result<Vec<Waiver>, Diagnostic> {
    let doc: toml::Spanned<toml::Table> = toml::from_str(text).map_err(|e| toml_diagnostic(path, text, &e))?;
    // Re-parse with spans for each waiver table.
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        waiver: Vec<toml::Spanned<toml::Table>>,
    }
    let spans = TomlSpans::parse(text);
    if let Some(key) = doc.get_ref().keys().find(|k| *k != "waiver") {
        return Err(Diagnostic::new(
            path,
            Code::UnknownField,
            format!("unknown top-level key `{key}`; waivers are [[waiver]] tables"),
        )
        .at_key(&spans, &[key]));
    }
    let file: File = toml::from_str(text).map_err(|e| toml_diagnostic(path, text, &e))?;
    Ok(file.waiver.into_iter().enumerate().map(|(i, t)| parse_one(path, text, &spans, i, t)).collect())
}

fn parse_one(path: &Path, text: &str, spans: &TomlSpans, index: usize, spanned: toml::Spanned<toml::Table>) -> Waiver {
    let span = spanned.span();
    let table = spanned.into_inner();
    let (line, _) = line_column(text, span.start);
    let index = index.to_string();
    // A key's own position; the table's when the key is not written.
    let at_key = |key: &str| -> Location {
        match spans.locate(&["waiver", &index, key]) {
            Some((line, column)) => Location { path: path.to_path_buf(), line: Some(line), column: Some(column) },
            None => Location::new(path).at_line(line),
        }
    };
    let mut locations: Vec<(String, Location)> = vec![(String::new(), at_key("\u{0}"))];
    for key in REQUIRED.iter().chain(OPTIONAL) {
        locations.push((key.to_string(), at_key(key)));
    }
    let diag = |key: &str, code: crate::errors::Code, message: String| locate_key(&locations, key, code, message);
    let mut problems = Vec::new();
    for key in table.keys() {
        if !REQUIRED.contains(&key.as_str()) && !OPTIONAL.contains(&key.as_str()) {
            // At the key's own line, not the table's.
            problems.push(at_key(key).diagnostic(Code::UnknownField, format!("unknown waiver field `{key}`")));
        }
    }
    let string_field = |key: &str, required: bool, problems: &mut Vec<Diagnostic>| -> Option<String> {
        match table.get(key) {
            None if required => {
                problems.push(diag("", Code::MissingField, format!("waiver is missing `{key}`")));
                None
            }
            None => None,
            Some(toml::Value::String(s)) if s.trim().is_empty() => {
                problems.push(diag(key, Code::EmptyField, format!("`{key}` must not be empty")));
                None
            }
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(toml::Value::Datetime(_)) => {
                problems.push(diag(key, Code::UnquotedDate, format!("`{key}` must be a quoted \"YYYY-MM-DD\" string")));
                None
            }
            Some(other) => {
                problems.push(diag(
                    key,
                    Code::WrongType,
                    format!("`{key}` must be a string, not {}", other.type_str()),
                ));
                None
            }
        }
    };
    let id = string_field("id", true, &mut problems).unwrap_or_else(|| format!("<unnamed at line {line}>"));
    let owner = string_field("owner", true, &mut problems).unwrap_or_default();
    let tracking = string_field("tracking", true, &mut problems).unwrap_or_default();
    let reason = string_field("reason", true, &mut problems).unwrap_or_default();
    let remove_when = string_field("remove-when", true, &mut problems).unwrap_or_default();
    let approver = string_field("approver", false, &mut problems);
    let created = string_field("created", true, &mut problems);
    let expires = string_field("expires", true, &mut problems);
    let scope = string_field("scope", true, &mut problems);
    let gate = string_field("gate", false, &mut problems);
    let case = string_field("case", false, &mut problems);
    let date = |key: &str, value: Option<String>, problems: &mut Vec<Diagnostic>| {
        value.and_then(|s| match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) if s.len() == 10 => Some(d),
            _ => {
                problems.push(diag(key, Code::InvalidDate, format!("`{key}` = \"{s}\" is not a YYYY-MM-DD date")));
                None
            }
        })
    };
    let created = date("created", created, &mut problems);
    let expires = date("expires", expires, &mut problems);
    let scope = scope.and_then(|s| match s.as_str() {
        "full" => Some(Scope::Full),
        "preflight" => Some(Scope::Preflight),
        "both" => Some(Scope::Both),
        _ => {
            problems.push(diag(
                "scope",
                Code::InvalidScope,
                format!("`scope` = \"{s}\" is not full, preflight or both"),
            ));
            None
        }
    });
    let target = match (gate, case) {
        (Some(g), None) => Some(WaiverTarget::Gate(g)),
        (None, Some(c)) => Some(WaiverTarget::Case(c)),
        (Some(_), Some(_)) => {
            problems.push(diag("case", Code::GateAndCase, "a waiver names a `gate` or a `case`, not both".into()));
            None
        }
        (None, None) => {
            problems.push(diag(
                "",
                Code::MissingTarget,
                "a waiver needs `gate` (or `case` for one fixture case)".into(),
            ));
            None
        }
    };
    Waiver {
        id,
        target,
        owner,
        tracking,
        reason,
        remove_when,
        approver,
        created,
        expires,
        scope,
        defined_at: Location::new(path).at_line(line),
        raw: plain_json(&toml::Value::Table(table.clone())),
        key_locations: locations,
        problems,
    }
}

/// The waiver as written, for the audit: TOML dates and times become their
/// text, not serde's private datetime wrapper.
fn plain_json(v: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.iter().map(plain_json).collect()),
        toml::Value::Table(t) => J::Object(t.iter().map(|(k, v)| (k.clone(), plain_json(v))).collect()),
    }
}

#[cfg(test)]
mod key_doc_tests {
    #[test]
    fn every_waiver_key_has_its_line_in_the_reference() {
        let mut documented: Vec<&str> = super::KEY_DOCS.iter().map(|(k, _, _)| *k).collect();
        let mut parsed: Vec<&str> = super::REQUIRED.iter().chain(super::OPTIONAL).copied().collect();
        documented.sort_unstable();
        parsed.sort_unstable();
        assert_eq!(documented, parsed);
    }
}
