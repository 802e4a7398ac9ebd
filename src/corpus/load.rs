//! Discovery and parsing of corpus files.
//!
//! Every problem is collected as a located diagnostic; the run stops with
//! all of them (up to a cap) rather than at the first, and nothing is skipped.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{Map, Value};
use walkdir::WalkDir;

use super::manifest::{Manifest, Mapping};
use super::{Case, DatasetInfo, Decision, Direction, Label, Message, Origin, Payload};
use crate::errors::{Diagnostic, Error, DIAGNOSTIC_CAP};

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

    let mut clock = crate::stage_clock::StageClock::new("load");
    let mut manifests: HashMap<PathBuf, Option<Arc<Manifest>>> = HashMap::new();
    let mut fingerprint = Fingerprint::new();
    let mut loaded = Loaded::default();
    let mut datasets: BTreeMap<String, DatasetInfo> = BTreeMap::new();
    let mut files_by_manifest: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for file in &files {
        let manifest = match find_manifest(file, paths, &mut manifests, &mut problems) {
            Some(Some(m)) => Some(m),
            Some(None) => continue, // the manifest itself is broken, already reported
            None => None,
        };
        let display_path = file.strip_prefix(base).unwrap_or(file).to_path_buf();
        if let Some(m) = &manifest {
            files_by_manifest.entry(m.path.clone()).or_default().push(file.clone());
        }
        let default_mapping = Mapping::default();
        let mapping = manifest.as_deref().map(|m| m.mapping_for(file)).unwrap_or(&default_mapping);
        let dataset_name = manifest.as_ref().map(|m| m.name.clone()).unwrap_or_else(|| file_stem(file));
        let info = datasets.entry(dataset_name.clone()).or_insert_with(|| DatasetInfo {
            name: dataset_name.clone(),
            source: manifest.as_ref().and_then(|m| m.source.clone()),
            license: manifest.as_ref().and_then(|m| m.license.clone()),
            ..DatasetInfo::default()
        });
        info.files.push(display_path.to_string_lossy().into_owned());
        let ctx = FileContext {
            path: Arc::new(display_path.clone()),
            mapping,
            strict_keys: manifest.is_none(),
            dataset: Arc::from(dataset_name.as_str()),
            id_prefix: manifest.as_ref().and_then(|m| m.id_prefix.clone()).unwrap_or_default(),
        };
        fingerprint.part(display_path.to_string_lossy().as_bytes());
        let before = loaded.cases.len();
        let read = if has_extension(file, "csv") {
            std::fs::read(file).map(|bytes| {
                fingerprint.part(&bytes);
                loaded.add(parse_csv(&bytes, &ctx), &mut problems);
            })
        } else {
            read_jsonl(file, &ctx, JSONL_BLOCK, &mut fingerprint, &mut loaded, &mut problems)
        };
        if let Err(e) = read {
            problems.push(Diagnostic::new(file, "unreadable-file", e.to_string()));
        }
        for case in &loaded.cases[before..] {
            *info.by_label.entry(case.label).or_default() += 1;
        }
        info.cases += loaded.cases.len() - before;
        if problems.len() > DIAGNOSTIC_CAP * 4 {
            break;
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
    clock.mark("files");
    let (cases, repeated_inputs) = finish_cases(loaded, &mut problems);
    clock.mark("ids and repeats");
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
    id_prefix: String,
}

/// A parsed case and what `finish_cases` needs to settle its id.
struct Built {
    /// Without an id in the data, only the manifest's id prefix until
    /// `finish_cases` appends the content hash.
    case: Case,
    /// For a case without an id: the hash its id is derived from.
    content_hash: Option<String>,
}

/// Every case read so far, with the keys that settle ids at the end.
#[derive(Default)]
struct Loaded {
    cases: Vec<Case>,
    /// For each case, the content hash its derived id needs (None: it has an id).
    keys: Vec<Option<String>>,
}

impl Loaded {
    fn add(&mut self, rows: Vec<Result<Built, Diagnostic>>, problems: &mut Vec<Diagnostic>) {
        for row in rows {
            match row {
                Ok(b) => {
                    self.cases.push(b.case);
                    self.keys.push(b.content_hash);
                }
                Err(d) => problems.push(d),
            }
        }
    }
}

/// Shares the few distinct category, source and tag strings among the many
/// cases that carry them.
#[derive(Default)]
struct Interner(std::collections::HashSet<Arc<str>, foldhash::fast::FixedState>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        match self.0.get(s) {
            Some(a) => a.clone(),
            None => {
                let a: Arc<str> = Arc::from(s);
                self.0.insert(a.clone());
                a
            }
        }
    }
}

/// JSONL is read in blocks of whole lines: memory stays bounded by the
/// block, not the file. A reader thread reads and hashes the next block
/// while the pool parses this one, and the parsed rows of a block are added
/// while the next block is parsed, so the serial steps (the read, the
/// hash, moving rows into place) no longer leave a core idle.
const JSONL_BLOCK: usize = 8 << 20;

fn read_jsonl(
    file: &Path,
    ctx: &FileContext,
    block: usize,
    fingerprint: &mut Fingerprint,
    loaded: &mut Loaded,
    problems: &mut Vec<Diagnostic>,
) -> std::io::Result<()> {
    let f = std::fs::File::open(file)?;
    let expected_len = f.metadata()?.len();
    fingerprint.part_len(expected_len);
    let (blocks, read_blocks) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
    let (emptied, spare) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_line_blocks(f, block, fingerprint, blocks, spare));
        let mut first_line = 1;
        let mut parsed: Option<Vec<Vec<Result<Built, Diagnostic>>>> = None;
        for buf in read_blocks {
            let previous = parsed.take();
            let ((rows, lines), ()) = rayon::join(
                || parse_jsonl_block(&buf, first_line, ctx),
                || previous.into_iter().flatten().for_each(|piece| loaded.add(piece, problems)),
            );
            if first_line == 1 && (buf.len() as u64) < expected_len {
                // Room for the whole file at the first block's line length.
                let estimate = (expected_len as f64 / buf.len().max(1) as f64 * lines as f64) as usize;
                loaded.cases.reserve(estimate);
                loaded.keys.reserve(estimate);
            }
            first_line += lines;
            parsed = Some(rows);
            let _ = emptied.send(buf); // the reader may be done; then the buffer is just freed
            if problems.len() > DIAGNOSTIC_CAP * 4 {
                break; // dropping the receiver stops the reader
            }
        }
        parsed.into_iter().flatten().for_each(|piece| loaded.add(piece, problems));
        let total = reader.join().expect("reader thread does not panic")?;
        if total != expected_len && problems.len() <= DIAGNOSTIC_CAP * 4 {
            problems.push(Diagnostic::new(file, "unreadable-file", "the file changed while it was read"));
        }
        Ok(())
    })
}

/// The reader thread of [`read_jsonl`]: sends blocks that end at a line end
/// (the last one holds whatever follows the last newline), each hashed into
/// `fingerprint` in file order. A line longer than a block just makes that
/// block longer. Returns the bytes read.
fn read_line_blocks(
    mut f: std::fs::File,
    block: usize,
    fingerprint: &mut Fingerprint,
    blocks: std::sync::mpsc::SyncSender<Vec<u8>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<u64> {
    use std::io::Read;
    let mut total = 0u64;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut buf = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(block + block / 8));
        buf.clear();
        buf.append(&mut carry);
        let read = loop {
            let before = buf.len();
            let read = (&mut f).take(block as u64).read_to_end(&mut buf)?;
            total += read as u64;
            if read == 0 || memchr::memchr(b'\n', &buf[before..]).is_some() {
                break read;
            }
        };
        let eof = read == 0;
        let cut = if eof { buf.len() } else { buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
        carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        if !buf.is_empty() {
            fingerprint.update(&buf);
            if blocks.send(buf).is_err() {
                return Ok(total); // the parser stopped early (too many problems)
            }
        }
        if eof {
            return Ok(total);
        }
    }
}

/// Lines per parallel piece of a block: enough to amortise the split.
const PIECE_BYTES: usize = 256 << 10;

/// Parses a block of whole lines in pieces on every core; returns the
/// results in line order and the number of lines (newlines) in the block.
fn parse_jsonl_block(
    block: &[u8],
    first_line: usize,
    ctx: &FileContext,
) -> (Vec<Vec<Result<Built, Diagnostic>>>, usize) {
    let mut pieces = Vec::new();
    let mut at = 0;
    while at < block.len() {
        let end = (at + PIECE_BYTES).min(block.len());
        let end = block[end..].iter().position(|&b| b == b'\n').map_or(block.len(), |i| end + i + 1);
        pieces.push(&block[at..end]);
        at = end;
    }
    let counts: Vec<usize> = pieces.par_iter().map(|p| p.iter().filter(|&&b| b == b'\n').count()).collect();
    let mut firsts = Vec::with_capacity(pieces.len());
    let mut line = first_line;
    for c in &counts {
        firsts.push(line);
        line += c;
    }
    let rows = pieces.par_iter().zip(firsts).map(|(piece, first)| parse_jsonl_piece(piece, first, ctx)).collect();
    (rows, line - first_line)
}

fn parse_jsonl_piece(piece: &[u8], first_line: usize, ctx: &FileContext) -> Vec<Result<Built, Diagnostic>> {
    let text = match std::str::from_utf8(piece) {
        Ok(t) => t,
        Err(e) => {
            let valid = &piece[..e.valid_up_to()];
            let line = first_line + valid.iter().filter(|&&b| b == b'\n').count();
            let column = valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
            return vec![Err(Diagnostic::new(&ctx.path, "invalid-utf8", "file is not valid UTF-8").at(line, column))];
        }
    };
    let mut interner = Interner::default();
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (first_line + i, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(line, l)| parse_jsonl_line(l, line, ctx, &mut interner))
        .collect()
}

/// A line of a JSONL file without a manifest: the documented keys only, read
/// straight into fields (no intermediate map). Keep in step with KNOWN_KEYS.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownFields {
    id: Option<Value>,
    input: Option<Value>,
    messages: Option<Value>,
    label: Option<Value>,
    category: Option<Value>,
    source: Option<Value>,
    tags: Option<Value>,
    expected: Option<Value>,
    direction: Option<Value>,
    context: Option<Value>,
    #[serde(rename = "expected-first-block")]
    expected_first_block: Option<Value>,
}

/// Where `build_case` reads a case's fields.
trait Fields {
    /// A field by key, or by JSON pointer when the name starts with `/`.
    fn get(&self, name: &str) -> Option<&Value>;
    /// Takes a field out (the input: the bulk of a case, moved not copied).
    fn take(&mut self, name: &str) -> Option<Value>;
    /// A key that is not one of KNOWN_KEYS.
    fn unknown_key(&self) -> Option<&str>;
}

impl Fields for Map<String, Value> {
    fn get(&self, name: &str) -> Option<&Value> {
        lookup(self, name)
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        if name.starts_with('/') {
            lookup(self, name).cloned()
        } else {
            self.remove(name)
        }
    }

    fn unknown_key(&self) -> Option<&str> {
        self.keys().map(String::as_str).find(|k| !KNOWN_KEYS.contains(k))
    }
}

impl KnownFields {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Value>> {
        Some(match name {
            "id" => &mut self.id,
            "input" => &mut self.input,
            "messages" => &mut self.messages,
            "label" => &mut self.label,
            "category" => &mut self.category,
            "source" => &mut self.source,
            "tags" => &mut self.tags,
            "expected" => &mut self.expected,
            "direction" => &mut self.direction,
            "context" => &mut self.context,
            "expected-first-block" => &mut self.expected_first_block,
            _ => return None,
        })
    }
}

impl Fields for KnownFields {
    fn get(&self, name: &str) -> Option<&Value> {
        match name {
            "id" => self.id.as_ref(),
            "input" => self.input.as_ref(),
            "messages" => self.messages.as_ref(),
            "label" => self.label.as_ref(),
            "category" => self.category.as_ref(),
            "source" => self.source.as_ref(),
            "tags" => self.tags.as_ref(),
            "expected" => self.expected.as_ref(),
            "direction" => self.direction.as_ref(),
            "context" => self.context.as_ref(),
            "expected-first-block" => self.expected_first_block.as_ref(),
            _ => None,
        }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        self.slot(name)?.take()
    }

    fn unknown_key(&self) -> Option<&str> {
        None // serde rejects unknown keys while parsing
    }
}

fn parse_jsonl_line(text: &str, line: usize, ctx: &FileContext, interner: &mut Interner) -> Result<Built, Diagnostic> {
    let not_object = || Diagnostic::new(&ctx.path, "invalid-case", "a case line must be a JSON object").at(line, 1);
    let json_error =
        |e: serde_json::Error| Diagnostic::new(&ctx.path, "invalid-json", e.to_string()).at(line, e.column());
    if !ctx.strict_keys {
        let value: Value = serde_json::from_str(text).map_err(json_error)?;
        let Value::Object(object) = value else { return Err(not_object()) };
        return build_case(object, line, ctx, interner);
    }
    match serde_json::from_str::<KnownFields>(text) {
        Ok(fields) => build_case(fields, line, ctx, interner),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            if !text.trim_start().starts_with('{') {
                return Err(not_object());
            }
            let message = e.to_string();
            match message.strip_prefix("unknown field ") {
                Some(rest) => {
                    let key = rest.split(',').next().unwrap_or(rest);
                    Err(Diagnostic::new(
                        &ctx.path,
                        "unknown-field",
                        format!(
                            "unknown field {key} (expected one of {}; a corpus.toml can map other fields)",
                            KNOWN_KEYS.join(", ")
                        ),
                    )
                    .at(line, e.column()))
                }
                None => Err(Diagnostic::new(&ctx.path, "invalid-case", message).at(line, e.column())),
            }
        }
        Err(e) => Err(json_error(e)),
    }
}

fn parse_csv(bytes: &[u8], ctx: &FileContext) -> Vec<Result<Built, Diagnostic>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return vec![Err(csv_diagnostic(&ctx.path, &e))],
    };
    let mut out = Vec::new();
    let mut interner = Interner::default();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
                let object: Map<String, Value> = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
                    .collect();
                out.push(build_case(object, line, ctx, &mut interner));
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

fn build_case(
    mut object: impl Fields,
    line: usize,
    ctx: &FileContext,
    interner: &mut Interner,
) -> Result<Built, Diagnostic> {
    let m = ctx.mapping;
    let err = |code: &'static str, msg: String| Diagnostic::new(&ctx.path, code, msg).at_line(line);
    if ctx.strict_keys {
        if let Some(key) = object.unknown_key() {
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
    let input = object.take(input_key).filter(|v| !v.is_null());
    let field = |name: &Option<String>, default: &str| -> Option<&Value> {
        object.get(name.as_deref().unwrap_or(default)).filter(|v| !v.is_null())
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
                if let Some(v) = object.get(name) {
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
    // A case without an id gets one from its content (never from its line number).
    let content_hash = id.is_none().then(|| {
        let payload_bytes = payload_key(&payload).1;
        let mut f = Fingerprint::new();
        f.part(payload_bytes.as_bytes())
            .part(label.as_str().as_bytes())
            .part(category.as_bytes())
            .part(serde_json::to_string(&context).unwrap_or_default().as_bytes());
        f.finish()
    });
    let id = match id {
        Some(id) if ctx.id_prefix.is_empty() => id,
        Some(id) => format!("{}{id}", ctx.id_prefix),
        None => ctx.id_prefix.clone(), // the content hash is appended in finish_cases
    };
    Ok(Built {
        case: Case {
            id,
            payload,
            label,
            category: interner.get(&category),
            source: interner.get(&source),
            tags: tags.iter().map(|t| interner.get(t)).collect(),
            expected,
            direction,
            context,
            dataset: ctx.dataset.clone(),
            expected_first_block,
            origin: Origin { path: ctx.path.clone(), line },
        },
        content_hash,
    })
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Derives missing ids, checks uniqueness and counts repeated inputs.
/// Derived ids hash the content (never the line number), and identical
/// cases are told apart by occurrence (`~2`, `~3`), so ids survive reordering.
fn finish_cases(loaded: Loaded, problems: &mut Vec<Diagnostic>) -> (Vec<Case>, usize) {
    let Loaded { mut cases, keys } = loaded;
    let repeated = repeated_inputs(&cases);
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    for (case, content_hash) in cases.iter_mut().zip(keys) {
        if let Some(hash) = content_hash {
            let base = format!("{}{}", case.id, &hash[..16]);
            let n = occurrences.entry(base.clone()).or_insert(0);
            *n += 1;
            case.id = if *n == 1 { base } else { format!("{base}~{n}") };
        }
    }
    duplicate_ids(&cases, problems);
    (cases, repeated)
}

/// Reports every case whose id an earlier case already has, naming the first.
fn duplicate_ids(cases: &[Case], problems: &mut Vec<Diagnostic>) {
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    for (i, first) in crate::hashing::repeats(&ids) {
        let (case, first) = (&cases[i], &cases[first]);
        problems.push(
            Diagnostic::new(
                &case.origin.path,
                "duplicate-id",
                format!("duplicate case id `{}` (first defined at {})", case.id, first.origin),
            )
            .at_line(case.origin.line),
        );
    }
}

/// What a payload is compared by: its text, or for a conversation or a
/// structured input its JSON, with the kind first so that a text that reads
/// like JSON never equals an object.
fn payload_key(payload: &Payload) -> (u8, Cow<'_, str>) {
    match payload {
        Payload::Text(t) => (0, Cow::Borrowed(t.as_str())),
        Payload::Conversation(_) => (1, Cow::Owned(serde_json::to_string(payload).unwrap_or_default())),
        Payload::Structured(_) => (2, Cow::Owned(serde_json::to_string(payload).unwrap_or_default())),
    }
}

/// Cases whose payload equals an earlier case's: compared exactly, not by a
/// digest, so no collision can miscount.
fn repeated_inputs(cases: &[Case]) -> usize {
    let keys: Vec<(u8, Cow<'_, str>)> = cases.par_iter().map(|c| payload_key(&c.payload)).collect();
    crate::hashing::repeats(&keys).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How a JSONL file without a manifest is read.
    fn plain_jsonl<'m>(file: &Path, mapping: &'m Mapping) -> FileContext<'m> {
        FileContext {
            path: Arc::new(file.to_path_buf()),
            mapping,
            strict_keys: true,
            dataset: Arc::from("d"),
            id_prefix: String::new(),
        }
    }

    /// A file of nothing but broken lines stops being read once the
    /// problems are far past what is shown, instead of reading (or hanging
    /// on) the rest; the reader thread stops when the parser does.
    #[test]
    fn a_file_of_broken_lines_stops_early_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("broken.jsonl");
        std::fs::write(&file, "{not json\n".repeat(100_000)).unwrap();
        let mapping = Mapping::default();
        let ctx = plain_jsonl(&file, &mapping);
        let (mut fingerprint, mut loaded, mut problems) = (Fingerprint::new(), Loaded::default(), Vec::new());
        read_jsonl(&file, &ctx, 4096, &mut fingerprint, &mut loaded, &mut problems).unwrap();
        assert!(loaded.cases.is_empty());
        assert!(problems.len() > DIAGNOSTIC_CAP * 4, "{}", problems.len());
        assert!(problems.len() < 10_000, "read far past the cap: {}", problems.len());
        assert!(problems.iter().all(|p| p.code == "invalid-json"));
    }

    /// Blocks far smaller than lines and lines split across blocks must give
    /// the same cases, line numbers and hash as reading the file at once.
    #[test]
    fn blocks_split_anywhere_keep_lines_and_hash() {
        let dir = std::env::temp_dir().join(format!("gauntlet-blocks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cases.jsonl");
        let mut text = String::new();
        for i in 1..=40 {
            match i {
                17 => text.push_str("{\"id\": \"broken\", \"input\": \n"),
                23 => text.push_str("\r\n"),
                29 => text.push_str(&format!(
                    "{{\"id\":\"c{i}\",\"input\":\"{}\",\"label\":\"benign\",\"category\":\"c\"}}\r\n",
                    "x".repeat(500)
                )),
                _ => text.push_str(&format!(
                    "{{\"id\":\"c{i}\",\"input\":\"text {i} é\",\"label\":\"benign\",\"category\":\"c\"}}\n"
                )),
            }
        }
        std::fs::write(&file, &text).unwrap();
        let mapping = Mapping::default();
        let ctx = plain_jsonl(&file, &mapping);
        for block in [7, 64, 1000, JSONL_BLOCK] {
            let (mut fingerprint, mut loaded, mut problems) = (Fingerprint::new(), Loaded::default(), Vec::new());
            read_jsonl(&file, &ctx, block, &mut fingerprint, &mut loaded, &mut problems).unwrap();
            let lines: Vec<usize> = loaded.cases.iter().map(|c| c.origin.line).collect();
            let expected: Vec<usize> = (1..=40).filter(|l| ![17, 23].contains(l)).collect();
            assert_eq!(lines, expected, "block {block}");
            assert!(loaded.cases.iter().all(|c| c.id == format!("c{}", c.origin.line)), "block {block}");
            assert_eq!(problems.len(), 1, "block {block}: {problems:?}");
            assert_eq!((problems[0].code, problems[0].line), ("invalid-json", Some(17)), "block {block}");
            let mut whole = Fingerprint::new();
            whole.part(text.as_bytes());
            assert_eq!(fingerprint.finish(), whole.finish(), "block {block}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
