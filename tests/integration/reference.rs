//! docs/reference.md is generated from the structs the parser reads each
//! file into: it must be up to date, and every key must have its meaning.

use gauntlet::config::reference::{render_markdown, undocumented};

use crate::helpers::repo_root;

#[test]
fn every_key_has_a_one_line_meaning() {
    let missing = undocumented();
    assert!(
        missing.is_empty(),
        "keys without a doc comment (add one where the field is defined):\n{}",
        missing.join("\n")
    );
}

#[test]
fn docs_reference_md_is_up_to_date() {
    let path = repo_root().join("docs/reference.md");
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    if published != render_markdown() {
        if std::env::var_os("CI").is_none() {
            std::fs::write(&path, render_markdown()).unwrap();
        }
        panic!("docs/reference.md was out of date with the config structs (rewritten outside CI: review the diff)");
    }
}
