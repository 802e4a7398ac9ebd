//! From one row (a CSV record or a JSONL object) to a case: the manifest's
//! mapping applied, every field checked, problems located at path:line.

use std::path::Path;

use serde_json::{Map, Value};

use super::ids::payload_key;
use super::load::{Built, FileContext, Interner, KNOWN_KEYS};
use super::{Case, Decision, Direction, Label, Message, Origin, Payload};
use crate::errors::{Code, Diagnostic};
use crate::hashing::Fingerprint;

pub(super) fn parse_csv(bytes: &[u8], ctx: &FileContext) -> Vec<Result<Built, Diagnostic>> {
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

pub(super) fn csv_diagnostic(path: &Path, e: &csv::Error) -> Diagnostic {
    let d = Diagnostic::new(path, Code::InvalidCsv, e.to_string());
    match e.position() {
        Some(p) => d.at_line(p.line() as usize),
        None => d,
    }
}

pub(super) fn lookup<'v>(object: &'v Map<String, Value>, field: &str) -> Option<&'v Value> {
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
pub(super) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn build_case(
    mut object: impl Fields,
    line: usize,
    ctx: &FileContext,
    interner: &mut Interner,
) -> Result<Built, Diagnostic> {
    let m = ctx.mapping;
    let err = |code: crate::errors::Code, msg: String| Diagnostic::new(&ctx.path, code, msg).at_line(line);
    if ctx.strict_keys {
        if let Some(key) = object.unknown_key() {
            return Err(err(
                Code::UnknownField,
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
            return Err(err(Code::AmbiguousPayload, "a case has either `input` or `messages`, not both".into()))
        }
        (Some(Value::String(s)), None) => Payload::Text(s),
        (Some(Value::Object(o)), None) => Payload::Structured(o),
        (Some(_), None) => return Err(err(Code::InvalidInput, "`input` must be a string or an object".into())),
        (None, Some(messages)) => {
            let parsed: Vec<Message> = match messages {
                Value::String(s) => serde_json::from_str(s),
                other => serde_json::from_value(other.clone()),
            }
            .map_err(|e| err(Code::InvalidMessages, format!("`messages` must be a list of {{role, content}}: {e}")))?;
            if parsed.is_empty() {
                return Err(err(Code::InvalidMessages, "`messages` is empty".into()));
            }
            Payload::Conversation(parsed)
        }
        (None, None) => {
            let name = m.input.as_deref().unwrap_or("input");
            return Err(err(Code::MissingInput, format!("missing input field `{name}`")));
        }
    };

    let label = match field(&m.label, "label") {
        Some(v) => {
            let text = scalar_text(v).ok_or_else(|| err(Code::InvalidLabel, "label must be a scalar".into()))?;
            let mapped = m.label_map.as_ref().and_then(|map| map.get(&text).copied());
            match mapped.or_else(|| Label::parse(&text)) {
                Some(l) => l,
                None => {
                    return Err(err(
                        Code::InvalidLabel,
                        format!(
                            "label `{}` is neither benign nor adversarial (add it to `label-map` in corpus.toml)",
                            truncate(&text, 60)
                        ),
                    ))
                }
            }
        }
        None => m.default_label.ok_or_else(|| {
            err(Code::MissingLabel, "missing label (set `label` or `default-label` in corpus.toml)".into())
        })?,
    };

    let category = match field(&m.category, "category").and_then(scalar_text) {
        Some(c) if !c.trim().is_empty() => c,
        _ => m.default_category.clone().ok_or_else(|| {
            err(Code::MissingCategory, "missing category (set `category` or `default-category` in corpus.toml)".into())
        })?,
    };

    let id = match field(&m.id, "id") {
        Some(v) => match scalar_text(v) {
            Some(s) if !s.trim().is_empty() => Some(s),
            _ => return Err(err(Code::InvalidId, "id must be a non-empty string or number".into())),
        },
        None => None,
    };

    // With a manifest, a data column is the source only when `source-field`
    // names it: a dataset's own `source` column (Giskard has one) must not
    // silently replace the manifest's dataset name.
    let source_value = match (&m.source_field, ctx.strict_keys) {
        (None, false) => None,
        _ => field(&m.source_field, "source"),
    };
    let source = source_value.and_then(scalar_text).unwrap_or_else(|| ctx.dataset.to_string());

    let tags = match field(&m.tags, "tags") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| scalar_text(t).ok_or_else(|| err(Code::InvalidTags, "tags must be strings".into())))
            .collect::<Result<_, _>>()?,
        Some(Value::String(s)) => s.split(';').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect(),
        Some(_) => return Err(err(Code::InvalidTags, "tags must be a list or a `;`-separated string".into())),
    };

    let expected = match field(&m.expected, "expected").and_then(scalar_text) {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => Some(Decision::parse(&s).ok_or_else(|| {
            err(
                Code::InvalidExpected,
                format!("expected `{}` is not allow, block or require_approval", truncate(&s, 40)),
            )
        })?),
    };

    let direction = match field(&m.direction, "direction").and_then(scalar_text) {
        None => m.default_direction.unwrap_or_default(),
        Some(s) => match s.as_str() {
            "ingress" => Direction::Ingress,
            "egress" => Direction::Egress,
            _ => {
                return Err(err(
                    Code::InvalidDirection,
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
            Some(_) => return Err(err(Code::InvalidContext, "`context` must be an object".into())),
        },
    };

    let expected_first_block = match object.get("expected-first-block") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(i) if matches!(payload, Payload::Conversation(ref m) if (i as usize) < m.len()) => Some(i as u32),
            _ => {
                return Err(err(
                    Code::InvalidExpectedFirstBlock,
                    "`expected-first-block` is the index of a message of this conversation".into(),
                ))
            }
        },
    };
    // A materialised variant keeps its pairing: both keys or neither.
    let text_of = |key: &str| object.get(key).filter(|v| !v.is_null()).map(|v| scalar_text(v).unwrap_or_default());
    let (variant_of, transform) = match (text_of("origin"), text_of("transform")) {
        (None, None) => (None, None),
        (Some(o), Some(t)) if !o.is_empty() && !t.is_empty() => (Some(o), Some(interner.get(&t))),
        _ => {
            return Err(err(
                Code::InvalidVariant,
                "a variant line needs both `origin` (the original's id) and `transform` (the chain)".into(),
            ))
        }
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
            transform,
            variant_of,
        },
        content_hash,
    })
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Where `build_case` reads a case's fields.
pub(super) trait Fields {
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
