//! The diagnostic catalogue: docs/errors.md lists every code, and every
//! code in the catalogue is used somewhere (a code nothing reports is dead).

use gauntlet::diagnostic_codes::{catalogue_markdown, Code};

use crate::helpers::repo_root;

#[test]
fn docs_errors_md_lists_every_code() {
    let path = repo_root().join("docs/errors.md");
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    if published != catalogue_markdown() {
        if std::env::var_os("CI").is_none() {
            std::fs::write(&path, catalogue_markdown()).unwrap();
        }
        panic!("docs/errors.md was out of date with src/diagnostic_codes.rs (rewritten outside CI: review the diff)");
    }
}

#[test]
fn every_code_is_reported_somewhere() {
    let mut sources = String::new();
    let mut stack = vec![repo_root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("diagnostic_codes.rs") {
                sources.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let used = used_codes(&sources);
    let unused: Vec<&str> =
        Code::ALL.iter().filter(|c| !used.contains(&format!("{c:?}"))).map(|c| c.as_str()).collect();
    assert!(unused.is_empty(), "codes nothing reports: {unused:?}");
}

/// The variant names written as `Code::Name`, each whole: `Code::DuplicateWaiverId`
/// does not count as a use of `DuplicateWaiver`.
fn used_codes(sources: &str) -> std::collections::BTreeSet<String> {
    sources
        .match_indices("Code::")
        .map(|(i, _)| {
            sources[i + "Code::".len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
        })
        .collect()
}

/// Regression: codes were matched as substrings, so `DuplicateWaiver`,
/// `InvalidExpected` and `MissingShard` counted as used inside longer names.
#[test]
fn a_code_used_only_inside_a_longer_name_is_not_used() {
    let used = used_codes("Code::DuplicateWaiverId, Code::InvalidExpectedTurn) x(Code::MissingShard);");
    assert!(!used.contains("DuplicateWaiver") && !used.contains("InvalidExpected"));
    assert!(used.contains("MissingShard") && used.contains("DuplicateWaiverId"));
}

#[test]
fn codes_are_unique_kebab_case_with_an_explanation() {
    let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    for c in Code::ALL {
        assert!(c.as_str().chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'));
        assert!(c.explanation().ends_with('.'), "{c}: {}", c.explanation());
    }
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "a code name is defined twice");
}
