//! A manifest that maps a column the data file does not have is one
//! mistake, told once at the manifest's line with the file's real columns,
//! not once per row ("missing label" 450 times) or not at all (an `id`
//! mapping that matches nothing silently derives every id).

use std::collections::BTreeSet;
use std::path::Path;

use super::load::Format;
use super::manifest::Mapping;
use crate::errors::{Code, Diagnostic, Location};

/// The columns of a CSV file (its header), or the keys seen in a JSONL
/// file's lines: read, streaming, until every name in `wanted` has been
/// seen (the first line, when the manifest is right), else to the end.
pub(super) fn columns(file: &Path, format: Format, wanted: &[&str]) -> BTreeSet<String> {
    use std::io::BufRead;
    if format == Format::Parquet {
        return super::parquet::columns(file);
    }
    if format == Format::Csv {
        let Ok(mut reader) = csv::ReaderBuilder::new().has_headers(true).from_path(file) else {
            return BTreeSet::new();
        };
        return reader
            .headers()
            .map(|h| h.iter().map(|c| c.trim_start_matches('\u{feff}').to_string()).collect())
            .unwrap_or_default();
    }
    let Ok(f) = std::fs::File::open(file) else { return BTreeSet::new() };
    let mut seen = BTreeSet::new();
    for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
        let line = line.trim_start_matches('\u{feff}');
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(line) {
            seen.extend(map.into_iter().map(|(k, _)| k));
        }
        if wanted.iter().all(|w| seen.contains(*w)) {
            break;
        }
    }
    seen
}

/// One diagnostic per mapping key that names a column the data file lacks. JSON pointers (starting with `/`) are checked row by
/// row instead.
pub(super) fn mistakes(
    mapping: &Mapping,
    file: &Path,
    format: Format,
    manifest: &Path,
    shown_as: &Path,
) -> Vec<Diagnostic> {
    let mut mapped: Vec<(&str, &str)> = [
        ("input", &mapping.input),
        ("messages", &mapping.messages),
        ("id", &mapping.id),
        ("label", &mapping.label),
        ("category", &mapping.category),
        ("source-field", &mapping.source_field),
        ("tags", &mapping.tags),
        ("expected", &mapping.expected),
        ("direction", &mapping.direction),
    ]
    .into_iter()
    .filter_map(|(key, column)| column.as_deref().map(|c| (key, c)))
    .collect();
    mapped.extend(mapping.context.iter().flatten().map(|c| ("context", c.as_str())));
    mapped.retain(|(_, c)| !c.starts_with('/'));
    if mapped.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<&str> = mapped.iter().map(|(_, c)| *c).collect();
    let columns = columns(file, format, &wanted);
    if format == Format::Parquet && columns.is_empty() {
        return Vec::new(); // not readable as Parquet: the load says so, at the file
    }
    let missing: Vec<(&str, &str)> = mapped.into_iter().filter(|(_, c)| !columns.contains(*c)).collect();
    if missing.is_empty() {
        return Vec::new();
    }
    let text = std::fs::read_to_string(manifest).unwrap_or_default();
    let listed: Vec<&str> = columns.iter().map(String::as_str).collect();
    let what = match format {
        Format::Csv => "its header has",
        Format::Parquet => "its columns are",
        Format::Jsonl => "the keys seen in its lines are",
    };
    missing
        .into_iter()
        .map(|(key, column)| {
            let at = text
                .split_inclusive('\n')
                .scan(0, |offset, line| {
                    let start = *offset;
                    *offset += line.len();
                    Some((start, line))
                })
                .find(|(_, line)| {
                    let t = line.trim_start();
                    t.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')) && line.contains(column)
                })
                .map(|(start, line)| start + (line.len() - line.trim_start().len()))
                .unwrap_or(0);
            Location::new(manifest).at_offset(&text, at).diagnostic(
                Code::UnknownColumn,
                format!(
                    "`{key}` = \"{column}\" names no column of {}: {what} {}",
                    shown_as.display(),
                    if listed.is_empty() { "none".to_string() } else { listed.join(", ") }
                ),
            )
        })
        .collect()
}
