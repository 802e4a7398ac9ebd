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
    assert!(out.code().unwrap() < 2, "{}", stderr(&out));
    let verdict = read_json(&dir.join("verdict.json"));
    let errors: Vec<String> =
        validator.iter_errors(&verdict).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // And a mutated verdict must not validate: the check has teeth.
    let mut broken = verdict.clone();
    broken["verdict"] = serde_json::json!("maybe");
    assert!(!validator.is_valid(&broken));
}

/// `gauntlet.verdict.v1` only grows: a v1 file with fields this version
/// does not know, or without fields added later, still reads and validates.
#[test]
fn a_v1_verdict_from_another_version_reads_and_validates() {
    let fixed = read_json(&repo_root().join("tests/data/report-model/verdict.json"));
    let mut newer = fixed.clone();
    newer["added-later"] = serde_json::json!({"anything": 1});
    newer["run"]["also-new"] = serde_json::json!("x");
    newer["gates"][0]["new-gate-field"] = serde_json::json!(true);
    let mut older = fixed.clone();
    for key in ["golden", "fixtures"] {
        older.as_object_mut().unwrap().remove(key);
    }
    let schema = read_json(&repo_root().join(SCHEMA_PATH));
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for v in [newer, older] {
        let read: gauntlet::report::Verdict = serde_json::from_value(v.clone()).expect("a v1 verdict reads");
        assert_eq!(read.gates.len(), 6);
        assert!(validator.is_valid(&v), "{:?}", validator.iter_errors(&v).map(|e| e.to_string()).collect::<Vec<_>>());
    }
}
