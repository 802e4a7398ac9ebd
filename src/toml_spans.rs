//! Where each key of a TOML file is written, from the parser's own spans.
//!
//! Files are deserialised into typed structs, which keep no positions; the
//! checks that run afterwards (a value out of range, a key that does not
//! apply to the target kind, two rules with one id) still have to name
//! `file:line:col`. Searching the text for the key's name found the first
//! occurrence anywhere, a comment or another table included. This index is
//! built from the same parse (toml's spanned document tree), so a check asks
//! for a key by its path (`["release", "signals", "rules", "1", "id"]`,
//! array items by index) and gets exactly where that key is written.

use std::ops::Range;

/// One key (or array item) and where it is written.
#[derive(Debug, Clone)]
struct Entry {
    path: Vec<String>,
    key: Range<usize>,
    /// The value, when it is a number (an integer read as f64; `nan` and
    /// `inf` as written).
    number: Option<f64>,
}

/// A number written in the file: where, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    pub path: Vec<String>,
    pub value: f64,
    pub line: usize,
    pub column: usize,
}

/// The keys of one TOML text, with their spans.
#[derive(Debug, Clone, Default)]
pub struct TomlSpans {
    entries: Vec<Entry>,
    text: String,
}

impl TomlSpans {
    /// The index of `text`; empty when it does not parse (the typed parse
    /// reports that error at its own position).
    pub fn parse(text: &str) -> TomlSpans {
        let mut entries = Vec::new();
        if let Ok(root) = toml::de::DeTable::parse(text) {
            walk_table(root.get_ref(), &mut Vec::new(), &mut entries);
        }
        TomlSpans { entries, text: text.to_string() }
    }

    fn find(&self, path: &[&str]) -> Option<&Entry> {
        self.entries.iter().find(|e| e.path.len() == path.len() && e.path.iter().zip(path).all(|(a, b)| a == b))
    }

    /// Whether `path` is written in the file.
    pub fn has(&self, path: &[&str]) -> bool {
        self.find(path).is_some()
    }

    /// The 1-based line and column of `path`'s key; when the key is not
    /// written (a default applies), of the nearest table above it that is.
    pub fn locate(&self, path: &[&str]) -> Option<(usize, usize)> {
        (0..=path.len()).rev().find_map(|n| self.find(&path[..n])).map(|e| line_column(&self.text, e.key.start))
    }

    /// Every number written at a path matching `pattern`, where `*` stands
    /// for any one key or array index (`["release", "rollback", "*", "max-age-hours"]`).
    pub fn numbers(&self, pattern: &[&str]) -> Vec<Number> {
        self.entries
            .iter()
            .filter(|e| e.path.len() == pattern.len() && e.path.iter().zip(pattern).all(|(a, b)| *b == "*" || a == b))
            .filter_map(|e| {
                let (line, column) = line_column(&self.text, e.key.start);
                e.number.map(|value| Number { path: e.path.clone(), value, line, column })
            })
            .collect()
    }

    /// The keys written directly in the table at `path`, in file order.
    pub fn keys_in(&self, path: &[&str]) -> Vec<&str> {
        let mut keys: Vec<(&Entry, &str)> = self
            .entries
            .iter()
            .filter(|e| e.path.len() == path.len() + 1 && e.path.iter().zip(path).all(|(a, b)| a == b))
            .map(|e| (e, e.path[path.len()].as_str()))
            .collect();
        keys.sort_by_key(|(e, _)| e.key.start);
        keys.into_iter().map(|(_, k)| k).collect()
    }
}

fn walk_table(table: &toml::de::DeTable<'_>, prefix: &mut Vec<String>, out: &mut Vec<Entry>) {
    for (key, value) in table {
        prefix.push(key.get_ref().to_string());
        out.push(Entry { path: prefix.clone(), key: key.span(), number: number(value.get_ref()) });
        walk_value(value.get_ref(), prefix, out);
        prefix.pop();
    }
}

fn number(value: &toml::de::DeValue<'_>) -> Option<f64> {
    match value {
        toml::de::DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok().map(|v| v as f64),
        // A `FromStr`-compatible text: `nan` and `inf` as written.
        toml::de::DeValue::Float(f) => f.as_str().parse().ok(),
        _ => None,
    }
}

fn walk_value(value: &toml::de::DeValue<'_>, prefix: &mut Vec<String>, out: &mut Vec<Entry>) {
    match value {
        toml::de::DeValue::Table(table) => walk_table(table, prefix, out),
        toml::de::DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                prefix.push(i.to_string());
                out.push(Entry { path: prefix.clone(), key: item.span(), number: number(item.get_ref()) });
                walk_value(item.get_ref(), prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: checks located a key by searching the text for its name,
    /// so `threshold` in a comment, or in another table, took the blame.
    #[test]
    fn a_key_is_found_by_its_path_not_by_its_name_in_the_text() {
        let text = "# threshold = 3 is a comment\n[target]\nkind = \"builtin\"\nthreshold = 3.0\n\n[[target.tenant]]\nid = \"a\"\n[[target.tenant]]\nid = \"b\"\nthreshold = 0.2\n\n[release.signals]\nrules = [\n  { id = \"x\", above = 1 },\n  { id = \"x\", above = 2 },\n]\n";
        let s = TomlSpans::parse(text);
        assert_eq!(s.locate(&["target", "threshold"]), Some((4, 1)));
        assert_eq!(s.locate(&["target", "tenant", "1", "threshold"]), Some((10, 1)));
        assert_eq!(s.locate(&["target", "tenant", "1", "id"]), Some((9, 1)));
        assert_eq!(s.locate(&["release", "signals", "rules", "1", "id"]), Some((15, 5)));
        // Not written: the nearest table that is.
        assert_eq!(s.locate(&["target", "workers"]), Some((2, 2)));
        assert_eq!(s.keys_in(&["target"]), ["kind", "threshold", "tenant"]);
        assert!(s.has(&["release", "signals"]) && !s.has(&["run"]));
        assert_eq!(TomlSpans::parse("not toml [").locate(&["x"]), None);
    }
}
