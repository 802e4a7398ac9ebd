//! The layout rules, checked on the source: data flows one way (a module
//! never imports a later stage), and no source file grows past 700 lines.

use std::collections::BTreeMap;
use std::path::Path;

use crate::helpers::repo_root;

/// Each top-level module of the library and its layer. A module may import
/// modules of lower layers only (its own submodules aside); equal layers are
/// independent of each other.
const LAYERS: &[(&str, u32)] = &[
    // Base: no knowledge of any stage.
    ("exit_code", 0),
    ("diagnostic_codes", 0),
    ("text", 0),
    ("hashing", 0),
    ("json_string", 0),
    ("stage_clock", 0),
    ("toml_spans", 0),
    ("progress", 0),
    ("errors", 1),
    ("atomic_file", 2),
    // The stages, in the order data flows.
    ("corpus", 3),
    ("partition", 4),
    ("transform", 4),
    ("targets", 4),
    ("replay", 5),
    ("load", 5),
    ("metrics", 6),
    ("evaluate", 7),
    ("calibrate", 7),
    ("attack", 7),
    ("release", 8),
    ("report", 9),
    // Reading gauntlet.toml into the stages' validated types.
    ("config", 9),
    // Wiring: files, processes and the clock.
    // Comparing two finished runs (pure, over report models).
    ("compare", 10),
    ("golden_file", 10),
    ("init", 10),
    ("serve", 10),
    ("pipeline", 11),
    ("conformance", 12),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `text` without the items marked `#[cfg(test)]`, each removed whole (a
/// test module, a test-only impl or function), wherever it stands: code
/// after a test-only item is still checked.
fn without_test_items(text: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        rest = &item[item_len(item)..];
    }
    out.push_str(rest);
    out
}

/// The length of the item at the start of `s`: through its `;`, or its
/// balanced `{ … }` block, with braces inside strings, characters and
/// comments not counted.
fn item_len(s: &str) -> usize {
    let b = s.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    let skip_to = |from: usize, pat: &str| s[from..].find(pat).map_or(b.len(), |k| from + k + pat.len());
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => i = skip_to(i, "\n"),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_to(i + 2, "*/"),
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#')) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) => {
                let hashes = s[i + 1..].bytes().take_while(|&c| c == b'#').count();
                let open = i + 1 + hashes;
                if b.get(open) == Some(&b'"') {
                    i = skip_to(open + 1, &format!("\"{}", "#".repeat(hashes)));
                } else {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            // A character literal ('{', '\''); a lifetime has no closing quote.
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 3,
            b'\'' if b.get(i + 1) == Some(&b'\\') => i = skip_to(i + 2, "'"),
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            b';' if depth == 0 => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The top-level modules a source text names through `crate::`, comments
/// and unit tests aside (a test may build its inputs with any stage).
fn crate_imports(text: &str) -> Vec<String> {
    let text = without_test_items(text);
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut out = Vec::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::x, b}`: every top-level name in the group.
            let body = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(body.split(',').map(|p| ident(p.trim())).filter(|s| !s.is_empty()));
        } else {
            out.push(ident(rest));
        }
    }
    out
}

fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn no_module_imports_a_later_stage() {
    let src = repo_root().join("src");
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        // The binary's files are above everything; unit-test files may use any stage.
        if matches!(module.as_str(), "main" | "cli_args" | "cli_output" | "lib") || file.ends_with("tests.rs") {
            continue;
        }
        let Some(&from) = layer.get(module.as_str()) else {
            panic!("src/{module} has no layer: add it to LAYERS in tests/integration/architecture.rs");
        };
        for imported in crate_imports(&std::fs::read_to_string(file).unwrap()) {
            if imported == module {
                continue;
            }
            let to = *layer
                .get(imported.as_str())
                .unwrap_or_else(|| panic!("{}: unknown module {imported}", file.display()));
            if to >= from {
                upward.push(format!("{} ({module}, layer {from}) imports {imported} (layer {to})", file.display()));
            }
        }
    }
    assert!(upward.is_empty(), "imports against the data flow:\n{}", upward.join("\n"));
}

#[test]
fn every_library_module_has_a_layer() {
    let lib = std::fs::read_to_string(repo_root().join("src/lib.rs")).unwrap();
    let declared: Vec<&str> =
        lib.lines().filter_map(|l| l.strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';'))).collect();
    let known: Vec<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    assert_eq!(declared.iter().filter(|m| !known.contains(m)).count(), 0, "{declared:?} vs {known:?}");
    assert_eq!(declared.len(), known.len(), "LAYERS names a module lib.rs does not declare");
}

/// Regression: only the text before the first `#[cfg(test)]` was checked,
/// and replay/mod.rs has a test-only impl near its top, so `replay`,
/// `replay_rounds` and `replay_repeated` were never checked.
#[test]
fn an_import_after_a_test_only_item_is_still_seen() {
    let replay = std::fs::read_to_string(repo_root().join("src/replay/mod.rs")).unwrap();
    let at = replay.find("pub fn replay_rounds(").expect("replay_rounds");
    let body = at + replay[at..].find('{').unwrap() + 1;
    let injected = format!("{}\n    let _ = crate::pipeline::RunOptions::new;\n{}", &replay[..body], &replay[body..]);
    assert!(!crate_imports(&replay).contains(&"pipeline".to_string()));
    assert!(crate_imports(&injected).contains(&"pipeline".to_string()), "an import in replay_rounds went unseen");
    // Test items go whole, strings and characters with braces inside them too.
    let text = "#[cfg(test)]\nimpl X { fn f() { let s = \"}\"; let c = '}'; let r = r#\"}\"#; crate::report::x(); } }\nuse crate::metrics;\n#[cfg(test)]\nmod tests;\nfn g() { crate::corpus::y() }";
    assert_eq!(crate_imports(text), ["metrics", "corpus"]);
}

#[test]
fn the_import_check_sees_grouped_and_nested_imports() {
    let seen = crate_imports("use crate::{report::x, metrics};\n// crate::pipeline\nlet a = crate::targets::y;");
    assert_eq!(seen, ["report", "metrics", "targets"]);
}

#[test]
fn no_source_file_is_over_700_lines_and_main_is_under_250() {
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "crates"] {
        rust_files(&repo_root().join(dir), &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 700).then(|| format!("{} has {n} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these along their seams:\n{}", long.join("\n"));
    let main = std::fs::read_to_string(repo_root().join("src/main.rs")).unwrap().lines().count();
    assert!(main < 250, "src/main.rs has {main} lines: it only parses, calls the library and prints");
}

/// The pure stages compute; the pipeline reads and writes. Regression:
/// `release/logs.rs` read the decision logs itself.
#[test]
fn pure_stages_touch_no_file() {
    let mut files = Vec::new();
    for stage in ["metrics", "evaluate", "calibrate", "release", "compare"] {
        rust_files(&repo_root().join("src").join(stage), &mut files);
    }
    let touching: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("tests.rs"))
        .filter(|f| {
            let code = without_test_items(&std::fs::read_to_string(f).unwrap());
            ["std::fs::", "fs::read", "File::open", "File::create"].iter().any(|call| code.contains(call))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(touching.is_empty(), "file access in a pure stage:\n{}", touching.join("\n"));
}
