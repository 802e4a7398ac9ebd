//! Decision snapshots: every case's decision, score and reasons, reviewed
//! as a diff. Pure; the files live in `fixtures/golden/` (see `golden_file`).
//!
//! One line per case, sorted by id, as a JSON array
//! `[id, label, decision-or-error, score, [reasons]]`: unambiguous whatever
//! the id holds. Scores are rounded to 4 decimals so float noise below that
//! never shows as a change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::corpus::Label;
use crate::replay::CaseResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GoldenStatus {
    Match,
    Changed,
    Missing,
    Blessed,
}

/// One dataset's decision snapshot check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct GoldenReport {
    pub dataset: String,
    pub path: String,
    pub status: GoldenStatus,
    #[serde(default)]
    pub cases: u64,
    #[serde(default)]
    pub flips: u64,
    #[serde(default)]
    pub changes: u64,
    /// Readable diff, flipped decisions first (hostile text: escape it).
    pub diff: String,
    /// Where the new state was written for review (`.snap.new`), if anywhere.
    pub pending: Option<String>,
}

/// The snapshot body for a set of results.
pub fn snapshot_body<'a>(results: impl IntoIterator<Item = &'a CaseResult>) -> String {
    let mut lines: Vec<(String, String)> = results
        .into_iter()
        .map(|r| {
            let decision = match (&r.decision, &r.error) {
                (Some(d), _) => d.as_str().to_string(),
                (None, Some(e)) => format!("error:{}", serde_json::to_value(e.kind).unwrap().as_str().unwrap_or("")),
                (None, None) => "error".into(),
            };
            let score = r.score.map(|s| serde_json::json!((s * 1e4).round() / 1e4)).unwrap_or(serde_json::Value::Null);
            let line = serde_json::json!([r.id, r.label.as_str(), decision, score, r.reasons]);
            (r.id.clone(), line.to_string())
        })
        .collect();
    lines.sort();
    let mut body = String::new();
    for (_, line) in lines {
        body.push_str(&line);
        body.push('\n');
    }
    body
}

/// What changed between two snapshot bodies, most serious first.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SnapshotDiff {
    /// Benign allow → not allowed, and adversarial not allowed → allow.
    pub flips: Vec<String>,
    /// Other decision changes, and score/reason changes.
    pub changes: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl SnapshotDiff {
    pub fn is_empty(&self) -> bool {
        self.flips.is_empty() && self.changes.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }

    /// A readable diff, flips first.
    pub fn render(&self, cap: usize) -> String {
        let mut out = String::new();
        for (title, lines) in [
            ("flipped decisions", &self.flips),
            ("other changes", &self.changes),
            ("added cases", &self.added),
            ("removed cases", &self.removed),
        ] {
            if lines.is_empty() {
                continue;
            }
            out.push_str(&format!("{title} ({}):\n", lines.len()));
            for l in lines.iter().take(cap) {
                out.push_str("  ");
                out.push_str(l);
                out.push('\n');
            }
            if lines.len() > cap {
                out.push_str(&format!("  ... and {} more\n", lines.len() - cap));
            }
        }
        out
    }
}

struct Entry {
    label: String,
    decision: String,
    line: String,
}

fn parse(body: &str) -> BTreeMap<String, Entry> {
    body.lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((
                v[0].as_str()?.to_string(),
                Entry { label: v[1].as_str()?.to_string(), decision: v[2].as_str()?.to_string(), line: l.to_string() },
            ))
        })
        .collect()
}

pub fn diff(old: &str, new: &str) -> SnapshotDiff {
    let (old, new) = (parse(old), parse(new));
    let mut d = SnapshotDiff::default();
    for (id, n) in &new {
        match old.get(id) {
            None => d.added.push(n.line.clone()),
            Some(o) if o.line == n.line => {}
            Some(o) => {
                let line =
                    format!("{id}: {} {} -> {}  (was {}, now {})", n.label, o.decision, n.decision, o.line, n.line);
                let benign = n.label == Label::Benign.as_str();
                let worse = (benign && o.decision == "allow" && n.decision != "allow")
                    || (!benign && o.decision != "allow" && n.decision == "allow");
                if worse {
                    d.flips.push(line);
                } else {
                    d.changes.push(line);
                }
            }
        }
    }
    for (id, o) in &old {
        if !new.contains_key(id) {
            d.removed.push(o.line.clone());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_come_first_and_name_the_case() {
        let old = "[\"a\",\"benign\",\"allow\",0.1,[]]\n[\"b\",\"adversarial\",\"block\",0.9,[\"x\"]]\n[\"c\",\"benign\",\"allow\",0.0,[]]\n";
        let new = "[\"a\",\"benign\",\"block\",0.6,[\"y\"]]\n[\"b\",\"adversarial\",\"block\",0.8,[\"x\"]]\n[\"d\",\"benign\",\"allow\",0.0,[]]\n";
        let d = diff(old, new);
        assert_eq!(d.flips.len(), 1);
        assert!(d.flips[0].starts_with("a: benign allow -> block"), "{}", d.flips[0]);
        assert_eq!(d.changes.len(), 1); // b's score moved
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.removed.len(), 1);
        let text = d.render(10);
        assert!(text.find("flipped").unwrap() < text.find("other changes").unwrap());
    }
}
