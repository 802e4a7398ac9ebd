//! `sign-offs/*.toml`: `[[sign-off]]` records an incident owner writes
//! before promotion resumes after an alert (see `release::promotion`).
//! Checked the way waivers are: every record on its own, every problem
//! collected with its `path:line:col`, nothing skipped; a record that
//! names no existing signal rule clears nothing and says so.

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::errors::{toml_diagnostic, Code, Diagnostic, Location};
use crate::release::promotion::SignOff;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawSignOff {
    /// The incident id.
    incident: String,
    /// Who signs it off.
    owner: String,
    /// The day of the sign-off, `"YYYY-MM-DD"`, on or after the alert fired.
    date: String,
    /// What was done.
    mitigation: String,
    /// The signal rule ids it clears.
    rules: Vec<String>,
    #[serde(default)]
    /// Only for this release version.
    version: Option<String>,
}

/// A sign-offs file as the reference shows it (records are read one by one).
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
pub(crate) struct RawSignOffFile {
    /// Each `[[sign-off]]`: one incident's record.
    sign_off: Vec<RawSignOff>,
}

/// The keys of a `[[sign-off]]` table, as `RawSignOff` names them.
const SIGN_OFF_KEYS: &[&str] = &["incident", "owner", "date", "mitigation", "rules", "version"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "sign-off")]
    sign_off: Vec<toml::Spanned<toml::Table>>,
}

/// Every record in `dir` (none when it does not exist), judged against the
/// project's signal rule ids and `today`.
pub fn load_sign_offs(dir: &Path, rule_ids: &[&str], today: NaiveDate, problems: &mut Vec<Diagnostic>) -> Vec<SignOff> {
    let mut out: Vec<SignOff> = Vec::new();
    for (path, text) in super::toml_files(dir, problems) {
        let file: File = match toml::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                problems.push(toml_diagnostic(&path, &text, &e));
                continue;
            }
        };
        for table in file.sign_off {
            if let Some(s) = parse_one(&path, &text, table, rule_ids, today, problems) {
                if let Some(first) = out.iter().find(|o| o.incident == s.incident) {
                    problems.push(Location::new(&path).at_line(line_of(&s.location)).diagnostic(
                        Code::DuplicateSignOff,
                        format!("incident `{}` is signed off twice (first at {})", s.incident, first.location),
                    ));
                    continue;
                }
                out.push(s);
            }
        }
    }
    out
}

fn line_of(location: &str) -> usize {
    location.rsplit(':').next().and_then(|l| l.parse().ok()).unwrap_or(1)
}

fn parse_one(
    path: &Path,
    text: &str,
    spanned: toml::Spanned<toml::Table>,
    rule_ids: &[&str],
    today: NaiveDate,
    problems: &mut Vec<Diagnostic>,
) -> Option<SignOff> {
    let start = spanned.span().start;
    // The table's text runs to the next header.
    let end = text[start + 1..].find("\n[").map_or(text.len(), |i| start + 1 + i);
    let at_key = |key: &str| {
        let offset = text[start..end].find(&format!("\n{key}")).map_or(start, |i| start + i + 1);
        Location::new(path).at_offset(text, offset)
    };
    let header = Location::new(path).at_offset(text, start);
    // An unknown key is reported at its own line, not at the header.
    let unknown: Vec<String> =
        spanned.get_ref().keys().filter(|k| !SIGN_OFF_KEYS.contains(&k.as_str())).cloned().collect();
    if !unknown.is_empty() {
        for key in unknown {
            let message = format!("sign-off: unknown field `{key}`, expected one of {}", SIGN_OFF_KEYS.join(", "));
            problems.push(at_key(&key).diagnostic(Code::InvalidSignOff, message));
        }
        return None;
    }
    let raw: RawSignOff = match toml::Value::Table(spanned.into_inner()).try_into() {
        Ok(r) => r,
        Err(e) => {
            problems.push(header.diagnostic(Code::InvalidSignOff, format!("sign-off: {}", e.message())));
            return None;
        }
    };
    let before = problems.len();
    for (key, value) in [("incident", &raw.incident), ("owner", &raw.owner), ("mitigation", &raw.mitigation)] {
        if value.trim().is_empty() {
            problems.push(at_key(key).diagnostic(Code::InvalidSignOff, format!("sign-off `{key}` is empty")));
        }
    }
    let date = NaiveDate::parse_from_str(&raw.date, "%Y-%m-%d").ok().filter(|_| raw.date.len() == 10);
    match date {
        None => problems.push(
            at_key("date")
                .diagnostic(Code::InvalidSignOff, format!("sign-off date `{}` is not a \"YYYY-MM-DD\" date", raw.date)),
        ),
        Some(d) if d > today => {
            problems.push(at_key("date").diagnostic(
                Code::SignOffInFuture,
                format!("sign-off dated {d}, after today ({today}): not yet signed"),
            ))
        }
        Some(_) => {}
    }
    if raw.rules.is_empty() {
        problems.push(at_key("rules").diagnostic(Code::InvalidSignOff, "a sign-off lists the alert rules it clears"));
    }
    for rule in raw.rules.iter().filter(|r| !rule_ids.contains(&r.as_str())) {
        problems.push(
            at_key("rules").diagnostic(
                Code::UnknownRule,
                format!("no signal rule `{rule}` exists (rules: {})", rule_ids.join(", ")),
            ),
        );
    }
    (problems.len() == before).then(|| SignOff {
        incident: raw.incident,
        owner: raw.owner,
        date: date.expect("checked above"),
        mitigation: raw.mitigation,
        rules: raw.rules,
        version: raw.version,
        location: format!("{}:{}", path.display(), crate::errors::line_column(text, start).0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Vec<SignOff>, Vec<Diagnostic>) {
        let dir =
            std::env::temp_dir().join(format!("gauntlet-sign-offs-{}", crate::hashing::sha256_hex(text.as_bytes())));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("incidents.toml"), text).unwrap();
        let mut problems = Vec::new();
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let out = load_sign_offs(&dir, &["fpr-high", "asr-high"], today, &mut problems);
        std::fs::remove_dir_all(&dir).unwrap();
        (out, problems)
    }

    const GOOD: &str = "[[sign-off]]\nincident = \"INC-7\"\nowner = \"alice@example.com\"\ndate = \"2026-11-27\"\nmitigation = \"Reverted the medical rule.\"\nrules = [\"fpr-high\"]\n";

    #[test]
    fn a_complete_sign_off_is_read() {
        let (out, problems) = load(GOOD);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(out[0].incident, "INC-7");
        assert!(out[0].location.ends_with("incidents.toml:1"));
    }

    #[test]
    fn every_problem_of_every_record_is_reported_with_its_line() {
        let text = format!(
            "{GOOD}\n[[sign-off]]\nincident = \"INC-8\"\nowner = \"\"\ndate = \"2026-12-01\"\nmitigation = \"x\"\nrules = [\"fpr-hihg\"]\n\n[[sign-off]]\nincident = \"INC-9\"\n\n{GOOD}"
        );
        let (out, problems) = load(&text);
        let seen: Vec<(&str, usize)> = problems.iter().map(|d| (d.code.as_str(), d.line.unwrap_or(0))).collect();
        assert_eq!(
            seen,
            [
                ("invalid-sign-off", 10),
                ("sign-off-in-future", 11),
                ("unknown-rule", 13),
                ("invalid-sign-off", 15),
                ("duplicate-sign-off", 18),
            ],
            "{problems:?}"
        );
        assert_eq!(out.len(), 1);
    }
}
