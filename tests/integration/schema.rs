use crate::helpers::*;

const SCHEMA_PATH: &str = "docs/schema/verdict.v1.schema.json";

/// The published schema is generated from the types; a change to the types
/// must come with the regenerated file (`cargo run -- schema > docs/...`).
#[test]
fn published_verdict_schema_is_up_to_date() {
    let generated = gauntlet::report::verdict_schema();
    let published = read_json(&repo_root().join(SCHEMA_PATH));
    assert!(
        generated == published,
        "{SCHEMA_PATH} is stale: run `cargo run -- schema > {SCHEMA_PATH}` and review the diff"
    );
}

#[test]
fn emitted_verdict_validates_against_published_schema() {
    let schema = read_json(&repo_root().join(SCHEMA_PATH));
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let dir = scratch("schema-validate");
    let out = gauntlet(&["run", "--quiet", "--out", dir.to_str().unwrap()], &repo_root());
    assert!(out.status.code().unwrap() < 2, "{}", stderr(&out));
    let verdict = read_json(&dir.join("verdict.json"));
    let errors: Vec<String> =
        validator.iter_errors(&verdict).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // And a mutated verdict must not validate: the check has teeth.
    let mut broken = verdict.clone();
    broken["verdict"] = serde_json::json!("maybe");
    assert!(!validator.is_valid(&broken));
}
