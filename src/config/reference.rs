//! The configuration reference (docs/reference.md), generated from the
//! structs the parser reads each file into: every key, its type, its
//! allowed values and its one-line meaning (the field's doc comment). A key
//! added without a doc comment is listed by [`undocumented`], and a test
//! fails on it, as it fails when the page is out of date.

use std::fmt::Write;

use serde_json::Value;

/// One key of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDoc {
    /// `release.signals.window-minutes`; `[[gate]].metric` for arrays of tables.
    pub path: String,
    pub kind: String,
    pub default: Option<String>,
    pub meaning: Option<String>,
}

/// The files gauntlet reads, with the keys of each.
pub fn files() -> Vec<(&'static str, &'static str, Vec<KeyDoc>)> {
    let from = |schema: schemars::Schema| {
        let value = serde_json::to_value(schema).expect("a schema serialises");
        let mut keys = Vec::new();
        walk(&value, &value, "", &mut keys);
        keys
    };
    vec![
        (
            "gauntlet.toml",
            "The project: the target, where its files are, counting, waivers, release, transforms and load.",
            from(schemars::schema_for!(super::RawConfig)),
        ),
        ("gates/*.toml", "The gates: one CI check each.", from(schemars::schema_for!(super::gates::RawGateFile))),
        ("waivers/*.toml", "Time-bounded waivers of a failing gate or fixture case.", super::waivers::key_docs()),
        (
            "sign-offs/*.toml",
            "Sign-off records that let a promotion resume after an alert cleared.",
            from(schemars::schema_for!(super::sign_offs::RawSignOffFile)),
        ),
        (
            "fixtures/*.toml",
            "Golden cases that must keep their decision.",
            from(schemars::schema_for!(super::fixtures::RawSuite)),
        ),
        (
            "corpora/<dataset>/corpus.toml",
            "How a dataset's files map onto cases.",
            from(schemars::schema_for!(crate::corpus::manifest::RawManifest)),
        ),
    ]
}

fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => root.get("$defs").and_then(|d| d.get(name)).map_or(v, |d| resolve(root, d)),
        None => v,
    }
}

/// The schema without `null` (an `Option`), and whether it was optional.
fn non_null<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    let v = resolve(root, v);
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = v.get(key).and_then(Value::as_array) {
            let real: Vec<&Value> =
                options.iter().filter(|o| o.get("type").and_then(Value::as_str) != Some("null")).collect();
            if real.len() == 1 {
                return non_null(root, real[0]);
            }
        }
    }
    v
}

fn is_table(root: &Value, v: &Value) -> bool {
    non_null(root, v).get("properties").is_some()
}

/// What a value is, in the words of the reference.
fn kind(root: &Value, v: &Value) -> String {
    let v = non_null(root, v);
    if let Some(values) = v.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values.iter().filter_map(Value::as_str).map(|s| format!("`{s}`")).collect();
        return format!("one of {}", names.join(", "));
    }
    if let Some(options) = v.get("oneOf").or_else(|| v.get("anyOf")).and_then(Value::as_array) {
        let names: Vec<String> = options
            .iter()
            .flat_map(|o| {
                // A documented variant is a `const`; undocumented ones are grouped in one `enum`.
                let values: Vec<String> = match (o.get("const"), o.get("enum").and_then(Value::as_array)) {
                    (Some(c), _) => c.as_str().map(|c| vec![format!("`{c}`")]).unwrap_or_default(),
                    (None, Some(e)) => e.iter().filter_map(Value::as_str).map(|c| format!("`{c}`")).collect(),
                    _ => vec![kind(root, o)],
                };
                values
            })
            .collect();
        return format!("one of {}", names.join(", "));
    }
    let types: Vec<&str> = match v.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => Vec::new(),
    };
    match types.first().copied() {
        Some("array") => match v.get("items") {
            Some(items) if is_table(root, items) => "array of tables".into(),
            Some(items) => format!("array of {}", kind(root, items)),
            None => "array".into(),
        },
        Some("object") if v.get("properties").is_some() => "table".into(),
        Some("object") => match v.get("additionalProperties") {
            Some(values @ Value::Object(_)) => format!("table of {}", kind(root, values)),
            _ => "table".into(),
        },
        Some("integer") => "integer".into(),
        Some("number") => "number".into(),
        Some("boolean") => "boolean".into(),
        Some("string") => "string".into(),
        Some(other) => other.into(),
        None => "any TOML value".into(),
    }
}

fn walk(root: &Value, schema: &Value, prefix: &str, out: &mut Vec<KeyDoc>) {
    let schema = non_null(root, schema);
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    for (key, prop) in properties {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        // A field's own doc comment; else its type's.
        let meaning = prop
            .get("description")
            .or_else(|| non_null(root, prop).get("description"))
            .and_then(Value::as_str)
            .map(|d| d.split("\n\n").next().unwrap_or(d).replace('\n', " "));
        let default = prop.get("default").filter(|d| !d.is_null()).map(|d| d.to_string());
        out.push(KeyDoc { path: path.clone(), kind: kind(root, prop), default, meaning });
        let inner = non_null(root, prop);
        if inner.get("properties").is_some() {
            walk(root, inner, &path, out);
        } else if let Some(items) = inner.get("items").filter(|i| is_table(root, i)) {
            walk(root, items, &format!("[[{path}]]"), out);
        }
    }
}

/// Keys without a one-line meaning: `file: key` each.
pub fn undocumented() -> Vec<String> {
    files()
        .into_iter()
        .flat_map(|(file, _, keys)| {
            keys.into_iter().filter(|k| k.meaning.is_none()).map(move |k| format!("{file}: {}", k.path))
        })
        .collect()
}

/// docs/reference.md.
pub fn render_markdown() -> String {
    let mut out = String::from(
        "# Configuration reference\n\nGenerated from the structs gauntlet parses each file into (`cargo test` rewrites it outside CI when a key changes); every key is checked: an unknown one is an error at its line. Types are TOML types; a key shown as `a.b` is `b` in the `[a]` table, and `[[a]].b` is `b` in each `[[a]]` table.\n",
    );
    for (file, about, keys) in files() {
        let _ = write!(out, "\n## {file}\n\n{about}\n\n| key | type | default | meaning |\n|---|---|---|---|\n");
        for k in keys {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                k.path,
                k.kind,
                k.default.map_or("–".to_string(), |d| format!("`{d}`")),
                k.meaning.unwrap_or_default().replace('|', "\\|")
            );
        }
    }
    out
}
