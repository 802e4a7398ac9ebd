//! Discovery and parsing of corpus files.
//!
//! Every problem is collected as a located diagnostic; the run stops with
//! all of them (up to a cap) rather than at the first, and nothing is skipped.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{Map, Value};
use walkdir::WalkDir;

use super::manifest::{Manifest, Mapping};
use super::{Case, DatasetInfo, Decision, Direction, Label, Message, Origin, Payload};
use crate::errors::{Diagnostic, Error, DIAGNOSTIC_CAP};
use sha2::Digest;

use crate::hashing::Fingerprint;

const MANIFEST_NAME: &str = "corpus.toml";

/// Keys a case line may carry when no manifest maps its fields. Anything
/// else is rejected, so a typo such as `lable` cannot silently drop a field.
const KNOWN_KEYS: &[&str] = &[
    "id",
    "input",
    "messages",
    "label",
    "category",
    "source",
    "tags",
    "expected",
    "direction",
    "context",
    "expected-first-block",
];

/// All cases of a run, in load order (sorted file paths, then line order).
#[derive(Debug)]
pub struct CorpusSet {
    pub cases: Vec<Case>,
    pub summary: CorpusSummary,
}

#[derive(Debug, Clone)]
pub struct CorpusSummary {
    pub files: Vec<PathBuf>,
    pub datasets: Vec<DatasetInfo>,
    /// SHA-256 over every data file's path and bytes, and manifests.
    pub hash: String,
    /// Cases whose payload repeats an earlier case's payload.
    pub repeated_inputs: usize,
}

/// Loads every corpus under `paths` (files or folders).
pub fn load_corpora(paths: &[PathBuf], base: &Path) -> Result<CorpusSet, Error> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            problems.push(Diagnostic::new(path, "missing-corpus", "corpus path does not exist"));
            continue;
        }
        for entry in WalkDir::new(path).sort_by_file_name().follow_links(true) {
            match entry {
                Ok(e) if e.file_type().is_file() && is_data_file(e.path()) => files.push(e.into_path()),
                Ok(_) => {}
                Err(e) => problems.push(Diagnostic::new(path, "unreadable-file", e.to_string())),
            }
        }
    }
    files.dedup();
    if files.is_empty() && problems.is_empty() {
        let shown = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        return Err(Diagnostic::new(
            paths.first().map(|p| p.as_path()).unwrap_or(base),
            "empty-corpus",
            format!("no .jsonl or .csv corpus files found under {shown}"),
        )
        .into());
    }

    let mut manifests: HashMap<PathBuf, Option<Arc<Manifest>>> = HashMap::new();
    let mut fingerprint = Fingerprint::new();
    let mut cases = Vec::new();
    let mut datasets: BTreeMap<String, DatasetInfo> = BTreeMap::new();
    let mut files_by_manifest: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for file in &files {
        let manifest = match find_manifest(file, paths, &mut manifests, &mut problems) {
            Some(Some(m)) => Some(m),
            Some(None) => continue, // the manifest itself is broken, already reported
            None => None,
        };
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                problems.push(Diagnostic::new(file, "unreadable-file", e.to_string()));
                continue;
            }
        };
        let display_path = file.strip_prefix(base).unwrap_or(file).to_path_buf();
        fingerprint.part(display_path.to_string_lossy().as_bytes()).part(&bytes);
        if let Some(m) = &manifest {
            files_by_manifest.entry(m.path.clone()).or_default().push(file.clone());
        }
        let default_mapping = Mapping::default();
        let mapping = manifest.as_deref().map(|m| m.mapping_for(file)).unwrap_or(&default_mapping);
        let dataset_name = manifest.as_ref().map(|m| m.name.clone()).unwrap_or_else(|| file_stem(file));
        let ctx = FileContext {
            path: Arc::new(display_path.clone()),
            mapping,
            strict_keys: manifest.is_none(),
            dataset: Arc::from(dataset_name.as_str()),
        };
        let parsed = if has_extension(file, "csv") { parse_csv(&bytes, &ctx) } else { parse_jsonl(&bytes, &ctx) };
        let info = datasets.entry(dataset_name.clone()).or_insert_with(|| DatasetInfo {
            name: dataset_name.clone(),
            source: manifest.as_ref().and_then(|m| m.source.clone()),
            license: manifest.as_ref().and_then(|m| m.license.clone()),
            ..DatasetInfo::default()
        });
        info.files.push(display_path.to_string_lossy().into_owned());
        let prefix = manifest.as_ref().and_then(|m| m.id_prefix.clone()).unwrap_or_default();
        for row in parsed {
            match row {
                Ok(mut raw) => {
                    if let Some(id) = raw.id.as_mut() {
                        id.insert_str(0, &prefix);
                    }
                    *info.by_label.entry(raw.label).or_default() += 1;
                    info.cases += 1;
                    cases.push((raw, prefix.clone()));
                }
                Err(d) => problems.push(d),
            }
            if problems.len() > DIAGNOSTIC_CAP * 4 {
                break;
            }
        }
    }
    for (manifest_path, data_files) in &files_by_manifest {
        if let Some(Some(m)) = manifests.get(manifest_path.parent().unwrap_or(Path::new(""))) {
            problems.extend(m.unmatched_patterns(data_files));
        }
    }
    // Sorted: a HashMap's order would make the hash differ run to run.
    let mut manifest_paths: Vec<&PathBuf> = manifests.values().flatten().map(|m| &m.path).collect();
    manifest_paths.sort();
    for path in manifest_paths {
        fingerprint.part(path.to_string_lossy().as_bytes());
        fingerprint.part(std::fs::read(path).unwrap_or_default().as_slice());
    }
    let (cases, repeated_inputs) = finish_cases(cases, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    if cases.is_empty() {
        return Err(Diagnostic::new(&files[0], "empty-corpus", "the corpus files hold no cases").into());
    }
    Ok(CorpusSet {
        cases,
        summary: CorpusSummary {
            files: files.iter().map(|f| f.strip_prefix(base).unwrap_or(f).to_path_buf()).collect(),
            datasets: datasets.into_values().collect(),
            hash: fingerprint.finish(),
            repeated_inputs,
        },
    })
}

fn is_data_file(path: &Path) -> bool {
    has_extension(path, "jsonl") || has_extension(path, "csv")
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The nearest `corpus.toml` in the file's folder or its ancestors, up to the
/// configured corpus root. `None`: there is none; `Some(None)`: it is broken.
fn find_manifest(
    file: &Path,
    roots: &[PathBuf],
    cache: &mut HashMap<PathBuf, Option<Arc<Manifest>>>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Option<Arc<Manifest>>> {
    let root = roots.iter().filter(|r| file.starts_with(r)).max_by_key(|r| r.as_os_str().len());
    let mut dir = file.parent();
    while let Some(d) = dir {
        if let Some(cached) = cache.get(d) {
            if cached.is_some() {
                return Some(cached.clone());
            }
        } else {
            let candidate = d.join(MANIFEST_NAME);
            if candidate.is_file() {
                let loaded = match Manifest::load(&candidate) {
                    Ok(m) => Some(Arc::new(m)),
                    Err(mut diags) => {
                        problems.append(&mut diags);
                        None
                    }
                };
                cache.insert(d.to_path_buf(), loaded.clone());
                return Some(loaded);
            }
        }
        if root.is_none_or(|r| d == r.as_path()) {
            break;
        }
        dir = d.parent();
    }
    None
}

struct FileContext<'a> {
    path: Arc<PathBuf>,
    mapping: &'a Mapping,
    strict_keys: bool,
    dataset: Arc<str>,
}

/// A case before ids are finalised and strings shared.
struct RawCase {
    id: Option<String>,
    payload: Payload,
    label: Label,
    category: String,
    source: String,
    tags: Vec<String>,
    expected: Option<Decision>,
    direction: Direction,
    context: Option<Map<String, Value>>,
    line: usize,
    path: Arc<PathBuf>,
    dataset: Arc<str>,
    expected_first_block: Option<u32>,
}

fn parse_jsonl(bytes: &[u8], ctx: &FileContext) -> Vec<Result<RawCase, Diagnostic>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) =
                crate::errors::line_column(&String::from_utf8_lossy(&bytes[..e.valid_up_to()]), e.valid_up_to());
            return vec![Err(Diagnostic::new(&ctx.path, "invalid-utf8", "file is not valid UTF-8").at(line, column))];
        }
    };
    let lines: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    lines
        .par_iter()
        .map(|&(line, text)| {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| Diagnostic::new(&ctx.path, "invalid-json", e.to_string()).at(line, e.column()))?;
            let Value::Object(object) = value else {
                return Err(Diagnostic::new(&ctx.path, "invalid-case", "a case line must be a JSON object").at(line, 1));
            };
            build_case(object, line, ctx)
        })
        .collect()
}

fn parse_csv(bytes: &[u8], ctx: &FileContext) -> Vec<Result<RawCase, Diagnostic>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return vec![Err(csv_diagnostic(&ctx.path, &e))],
    };
    let mut out = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
                let object: Map<String, Value> = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
                    .collect();
                out.push(build_case(object, line, ctx));
            }
            Err(e) => out.push(Err(csv_diagnostic(&ctx.path, &e))),
        }
    }
    out
}

fn csv_diagnostic(path: &Path, e: &csv::Error) -> Diagnostic {
    let d = Diagnostic::new(path, "invalid-csv", e.to_string());
    match e.position() {
        Some(p) => d.at_line(p.line() as usize),
        None => d,
    }
}

fn lookup<'v>(object: &'v Map<String, Value>, field: &str) -> Option<&'v Value> {
    if field.starts_with('/') {
        // A JSON pointer into nested data; the object is the document root.
        let mut current: Option<&Value> = None;
        for token in field.split('/').skip(1) {
            let token = token.replace("~1", "/").replace("~0", "~");
            current = match current {
                None => object.get(&token),
                Some(Value::Object(m)) => m.get(&token),
                Some(Value::Array(a)) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
                Some(_) => None,
            };
        }
        current
    } else {
        object.get(field)
    }
}

/// A scalar as text: datasets store labels as strings, booleans or numbers.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn build_case(mut object: Map<String, Value>, line: usize, ctx: &FileContext) -> Result<RawCase, Diagnostic> {
    let m = ctx.mapping;
    let err = |code: &'static str, msg: String| Diagnostic::new(&ctx.path, code, msg).at_line(line);
    if ctx.strict_keys {
        if let Some(key) = object.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(err(
                "unknown-field",
                format!(
                    "unknown field `{key}` (expected one of {}; a corpus.toml can map other fields)",
                    KNOWN_KEYS.join(", ")
                ),
            ));
        }
    }

    // The input is the bulk of a case: take it out of the object rather than copy it.
    let input_key = m.input.as_deref().unwrap_or("input");
    let input = if input_key.starts_with('/') { lookup(&object, input_key).cloned() } else { object.remove(input_key) }
        .filter(|v| !v.is_null());
    let field = |name: &Option<String>, default: &str| -> Option<&Value> {
        lookup(&object, name.as_deref().unwrap_or(default)).filter(|v| !v.is_null())
    };
    let payload = match (input, field(&m.messages, "messages")) {
        (Some(_), Some(_)) => {
            return Err(err("ambiguous-payload", "a case has either `input` or `messages`, not both".into()))
        }
        (Some(Value::String(s)), None) => Payload::Text(s),
        (Some(Value::Object(o)), None) => Payload::Structured(o),
        (Some(_), None) => return Err(err("invalid-input", "`input` must be a string or an object".into())),
        (None, Some(messages)) => {
            let parsed: Vec<Message> = match messages {
                Value::String(s) => serde_json::from_str(s),
                other => serde_json::from_value(other.clone()),
            }
            .map_err(|e| err("invalid-messages", format!("`messages` must be a list of {{role, content}}: {e}")))?;
            if parsed.is_empty() {
                return Err(err("invalid-messages", "`messages` is empty".into()));
            }
            Payload::Conversation(parsed)
        }
        (None, None) => {
            let name = m.input.as_deref().unwrap_or("input");
            return Err(err("missing-input", format!("missing input field `{name}`")));
        }
    };

    let label = match field(&m.label, "label") {
        Some(v) => {
            let text = scalar_text(v).ok_or_else(|| err("invalid-label", "label must be a scalar".into()))?;
            let mapped = m.label_map.as_ref().and_then(|map| map.get(&text).copied());
            match mapped.or_else(|| Label::parse(&text)) {
                Some(l) => l,
                None => {
                    return Err(err(
                        "invalid-label",
                        format!(
                            "label `{}` is neither benign nor adversarial (add it to `label-map` in corpus.toml)",
                            truncate(&text, 60)
                        ),
                    ))
                }
            }
        }
        None => m.default_label.ok_or_else(|| {
            err("missing-label", "missing label (set `label` or `default-label` in corpus.toml)".into())
        })?,
    };

    let category = match field(&m.category, "category").and_then(scalar_text) {
        Some(c) if !c.trim().is_empty() => c,
        _ => m.default_category.clone().ok_or_else(|| {
            err("missing-category", "missing category (set `category` or `default-category` in corpus.toml)".into())
        })?,
    };

    let id = match field(&m.id, "id") {
        Some(v) => match scalar_text(v) {
            Some(s) if !s.trim().is_empty() => Some(s),
            _ => return Err(err("invalid-id", "id must be a non-empty string or number".into())),
        },
        None => None,
    };

    let source = field(&m.source_field, "source").and_then(scalar_text).unwrap_or_else(|| ctx.dataset.to_string());

    let tags = match field(&m.tags, "tags") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| scalar_text(t).ok_or_else(|| err("invalid-tags", "tags must be strings".into())))
            .collect::<Result<_, _>>()?,
        Some(Value::String(s)) => s.split(';').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect(),
        Some(_) => return Err(err("invalid-tags", "tags must be a list or a `;`-separated string".into())),
    };

    let expected = match field(&m.expected, "expected").and_then(scalar_text) {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => Some(Decision::parse(&s).ok_or_else(|| {
            err("invalid-expected", format!("expected `{}` is not allow, block or require_approval", truncate(&s, 40)))
        })?),
    };

    let direction = match field(&m.direction, "direction").and_then(scalar_text) {
        None => m.default_direction.unwrap_or_default(),
        Some(s) => match s.as_str() {
            "ingress" => Direction::Ingress,
            "egress" => Direction::Egress,
            _ => {
                return Err(err(
                    "invalid-direction",
                    format!("direction `{}` is not ingress or egress", truncate(&s, 40)),
                ))
            }
        },
    };

    let context = match &m.context {
        Some(names) => {
            let mut map = Map::new();
            for name in names {
                if let Some(v) = lookup(&object, name) {
                    map.insert(name.trim_start_matches('/').to_string(), v.clone());
                }
            }
            Some(map)
        }
        None => match object.get("context") {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => Some(o.clone()),
            Some(_) => return Err(err("invalid-context", "`context` must be an object".into())),
        },
    };

    let expected_first_block = match object.get("expected-first-block") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(i) if matches!(payload, Payload::Conversation(ref m) if (i as usize) < m.len()) => Some(i as u32),
            _ => {
                return Err(err(
                    "invalid-expected-first-block",
                    "`expected-first-block` is the index of a message of this conversation".into(),
                ))
            }
        },
    };
    Ok(RawCase {
        id,
        payload,
        label,
        category,
        source,
        tags,
        expected,
        direction,
        context,
        line,
        path: ctx.path.clone(),
        dataset: ctx.dataset.clone(),
        expected_first_block,
    })
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Derives missing ids, checks uniqueness, shares repeated strings and counts
/// repeated inputs. Derived ids hash the content (never the line number), and
/// identical cases are told apart by occurrence (`~2`, `~3`), so ids survive
/// reordering.
fn finish_cases(raw: Vec<(RawCase, String)>, problems: &mut Vec<Diagnostic>) -> (Vec<Case>, usize) {
    // Per case: a 128-bit key of the payload (only to count repeats within
    // this run, never stored) and, when the id is missing, its content hash.
    let keys: Vec<(u128, Option<String>)> = raw
        .par_iter()
        .map(|(c, _)| {
            let payload_json;
            let payload: &[u8] = match &c.payload {
                Payload::Text(t) => t.as_bytes(),
                other => {
                    payload_json = serde_json::to_string(other).unwrap_or_default();
                    payload_json.as_bytes()
                }
            };
            let digest = sha2::Sha256::digest(payload);
            let key = u128::from_le_bytes(digest[..16].try_into().expect("16 bytes"));
            let content_hash = c.id.is_none().then(|| {
                let mut f = Fingerprint::new();
                f.part(payload)
                    .part(c.label.as_str().as_bytes())
                    .part(c.category.as_bytes())
                    .part(serde_json::to_string(&c.context).unwrap_or_default().as_bytes());
                f.finish()
            });
            (key, content_hash)
        })
        .collect();

    let mut interned: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern = |s: String| -> Arc<str> {
        match interned.get(&s) {
            Some(a) => a.clone(),
            None => interned.entry(s).or_insert_with_key(|k| Arc::from(k.as_str())).clone(),
        }
    };
    let mut seen_inputs: std::collections::HashSet<u128> = std::collections::HashSet::with_capacity(raw.len());
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    let mut repeated = 0;
    let mut cases = Vec::with_capacity(raw.len());
    for ((c, prefix), (key, content_hash)) in raw.into_iter().zip(keys) {
        if !seen_inputs.insert(key) {
            repeated += 1;
        }
        let id = match (c.id, content_hash) {
            (Some(id), _) => id,
            (None, hash) => {
                let base = format!("{prefix}{}", &hash.expect("computed for missing ids")[..16]);
                let n = occurrences.entry(base.clone()).or_insert(0);
                *n += 1;
                if *n == 1 {
                    base
                } else {
                    format!("{base}~{n}")
                }
            }
        };
        cases.push(Case {
            id,
            payload: c.payload,
            label: c.label,
            category: intern(c.category),
            source: intern(c.source),
            tags: c.tags.into_iter().map(&mut intern).collect(),
            expected: c.expected,
            direction: c.direction,
            context: c.context,
            dataset: c.dataset,
            expected_first_block: c.expected_first_block,
            origin: Origin { path: c.path, line: c.line },
        });
    }
    let mut first_seen: HashMap<&str, &Origin> = HashMap::with_capacity(cases.len());
    for case in &cases {
        if let Some(first) = first_seen.insert(&case.id, &case.origin) {
            problems.push(
                Diagnostic::new(
                    &case.origin.path,
                    "duplicate-id",
                    format!("duplicate case id `{}` (first defined at {first})", case.id),
                )
                .at_line(case.origin.line),
            );
            first_seen.insert(&case.id, first);
        }
    }
    (cases, repeated)
}
