//! Every example in README.md and the user guide is checked, so one that
//! stops working fails CI:
//!
//! - TOML: parsed; one showing a whole `gauntlet.toml` (it has `[target]`),
//!   a gates file (`[[gate]]`) or a fragment of gauntlet.toml is written
//!   into a project and must pass `gauntlet check --offline`, the only
//!   problems allowed being files and variables the example names but a
//!   reader supplies (a CA file, an API key, a folder).
//! - JSON and JSONL: each value (each line) parses.
//! - Shell: each `gauntlet ...` command names a real subcommand, and every
//!   `--flag` it uses is one that subcommand's `--help` lists.

use std::path::{Path, PathBuf};

use crate::helpers::*;

/// Problems a check may report about what the example leaves to the reader.
const READER_SUPPLIED: &[&str] = &[
    "error[unreadable-ca-file]",
    "error[unreadable-client-cert]",
    "error[missing-folder]",
    "error[missing-env]",
    "error[unreadable-file]",
    "error[unreadable-rules]",
    "error[unreadable-templates]",
    // corpus.toml examples name data the reader has (or fetches).
    "error[unmatched-file-pattern]",
    "error[dataset-not-fetched]",
    "error[empty-corpus]",
];

/// Keys of `[target]` shown as a fragment without their table header.
const TARGET_FRAGMENT_KEYS: &[&str] = &["decision", "decision-text", "score", "reasons", "body"];

struct Block {
    file: PathBuf,
    line: usize,
    lang: String,
    text: String,
}

fn blocks() -> Vec<Block> {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(root.join("docs/book/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    files.extend(chapters);
    files.push(root.join("docs/protocol.md"));
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut open: Option<(usize, String, String)> = None;
        for (i, line) in text.lines().enumerate() {
            match (&mut open, line.trim_start().strip_prefix("```")) {
                (None, Some(lang)) => open = Some((i + 1, lang.trim().to_string(), String::new())),
                (Some(_), Some("")) => {
                    let (line, lang, text) = open.take().unwrap();
                    out.push(Block { file: file.clone(), line, lang, text });
                }
                (Some((_, _, body)), _) => {
                    body.push_str(line);
                    body.push('\n');
                }
                (None, None) => {}
            }
        }
    }
    out
}

fn project_for(block: &Block, n: usize) -> Option<(PathBuf, Vec<&'static str>)> {
    let value: toml::Table = block
        .text
        .parse()
        .unwrap_or_else(|e| panic!("{}:{}: the TOML example does not parse: {e}", block.file.display(), block.line));
    let dir = scratch(&format!("example-{n}"));
    write(&dir.join("corpora/cases.jsonl"), "{\"id\":\"a\",\"input\":\"How to make a bomb?\",\"label\":\"adversarial\",\"category\":\"c\"}\n{\"id\":\"b\",\"input\":\"Explain how rain forms.\",\"label\":\"benign\",\"category\":\"c\"}\n");
    let builtin_with_gate = |dir: &Path| {
        write(&dir.join("gauntlet.toml"), "[target]\nkind = \"builtin\"\n");
        write(&dir.join("gates/g.toml"), ALWAYS_PASSING_GATE);
    };
    if value.contains_key("gate") {
        write(&dir.join("gauntlet.toml"), "[target]\nkind = \"builtin\"\n");
        write(&dir.join("gates/example.toml"), &block.text);
    } else if value.contains_key("target") {
        write(&dir.join("gauntlet.toml"), &block.text);
        write(&dir.join("gates/g.toml"), ALWAYS_PASSING_GATE);
    } else if ["run", "counting", "waiver-policy", "release", "transforms", "load"]
        .iter()
        .any(|k| value.contains_key(*k))
    {
        write(&dir.join("gauntlet.toml"), &format!("[target]\nkind = \"builtin\"\n\n{}", block.text));
        write(&dir.join("gates/g.toml"), ALWAYS_PASSING_GATE);
    } else if TARGET_FRAGMENT_KEYS.iter().any(|k| value.contains_key(*k)) {
        let target = "[target]\nkind = \"http\"\nurl = \"https://guard.example.com/check\"\n";
        write(&dir.join("gauntlet.toml"), &format!("{target}{}", block.text));
        write(&dir.join("gates/g.toml"), ALWAYS_PASSING_GATE);
    } else if value.contains_key("sign-off") {
        builtin_with_gate(&dir);
        write(&dir.join("sign-offs/example.toml"), &block.text);
    } else if value.contains_key("name") && !value.contains_key("package") {
        // A corpus.toml: checked beside the project's corpus.
        builtin_with_gate(&dir);
        write(&dir.join("corpora/example/corpus.toml"), &block.text);
    } else {
        return None; // not a gauntlet file (Cargo.toml): parsed only
    }
    Some((dir, READER_SUPPLIED.to_vec()))
}

#[test]
fn every_example_in_the_readme_and_the_guide_works() {
    let all = blocks();
    let (mut toml_checked, mut toml_parsed, mut json, mut shell, mut reader_supplied) = (0, 0, 0, 0, 0);
    let help = |path: &[&str]| {
        let mut args: Vec<&str> = path.to_vec();
        args.push("--help");
        let out = gauntlet(&args, Path::new("."));
        (out.code(), stdout(&out))
    };
    let (_, top) = help(&[]);
    for (n, b) in all.iter().enumerate() {
        let at = format!("{}:{}", b.file.display(), b.line);
        match b.lang.as_str() {
            "toml" => match project_for(b, n) {
                Some((dir, allowed)) => {
                    let env = [
                        ("OPENAI_API_KEY", "k"),
                        ("AZURE_CONTENT_SAFETY_KEY", "k"),
                        ("LAKERA_GUARD_API_KEY", "k"),
                        ("NEMO_GUARDRAILS_CONFIG_ID", "c"),
                    ];
                    let out = gauntlet_with_env(&["check", "--offline"], &dir, &env);
                    let err = stderr(&out);
                    if out.code() != Some(0) {
                        let problems: Vec<&str> = err.lines().filter(|l| l.contains(": error[")).collect();
                        let real: Vec<&&str> =
                            problems.iter().filter(|p| !allowed.iter().any(|a| p.contains(a))).collect();
                        assert!(
                            out.code() == Some(2) && !problems.is_empty() && real.is_empty(),
                            "{at}: the example fails `gauntlet check`:\n{err}"
                        );
                        reader_supplied += 1;
                    }
                    toml_checked += 1;
                }
                None => toml_parsed += 1,
            },
            "json" => {
                serde_json::from_str::<serde_json::Value>(&b.text).unwrap_or_else(|e| panic!("{at}: {e}"));
                json += 1;
            }
            "jsonl" => {
                for l in b.text.lines().filter(|l| !l.trim().is_empty()) {
                    serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{at}: {e}: {l}"));
                }
                json += 1;
            }
            "sh" | "bash" | "console" => {
                for line in b.text.lines() {
                    let command = line.trim().trim_start_matches("$ ");
                    let Some(rest) = command.strip_prefix("gauntlet ") else { continue };
                    let words: Vec<&str> = rest.split_whitespace().take_while(|w| !w.starts_with('#')).collect();
                    let mut path: Vec<&str> = Vec::new();
                    for w in &words {
                        if w.starts_with('-')
                            || w.contains(['/', '.', '='])
                            || !w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                        {
                            break;
                        }
                        let mut candidate = path.clone();
                        candidate.push(w);
                        if help(&candidate).0 != Some(0) {
                            break;
                        }
                        path = candidate;
                    }
                    assert!(!path.is_empty() && top.contains(path[0]), "{at}: `gauntlet {rest}` names no command");
                    let (_, usage) = help(&path);
                    for flag in words.iter().filter(|w| w.starts_with("--")) {
                        let flag = flag.split('=').next().unwrap();
                        assert!(usage.contains(flag), "{at}: `gauntlet {}` has no {flag}", path.join(" "));
                    }
                    shell += 1;
                }
            }
            _ => {}
        }
    }
    eprintln!(
        "examples: {toml_checked} TOML checked by `gauntlet check` ({reader_supplied} naming a file or key the reader supplies), {toml_parsed} TOML parsed, {json} JSON, {shell} shell commands"
    );
    assert!(toml_checked >= 15 && shell >= 5, "{toml_checked} {shell}: the extraction found too little");
}
