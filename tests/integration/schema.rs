use crate::helpers::*;

const SCHEMA_PATH: &str = "docs/schema/verdict.v1.schema.json";

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

/// Every published schema in docs/schema/ is what `gauntlet schema <kind>`
/// prints: a change to an output type must come with its regenerated file.
#[test]
fn every_published_schema_is_up_to_date() {
    for kind in ["verdict", "waiver-audit", "calibration", "release", "diff", "load", "attack"] {
        let out = gauntlet(&["schema", kind], &repo_root());
        assert_eq!(out.code(), Some(0));
        let printed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let path = format!("docs/schema/{kind}.v1.schema.json");
        assert!(
            printed == read_json(&repo_root().join(&path)),
            "{path} is stale: run `cargo run -- schema {kind} > {path}` and review the diff"
        );
    }
}

/// diff.json validates against its published schema.
#[test]
fn emitted_diff_validates_against_published_schema() {
    let schema = read_json(&repo_root().join("docs/schema/diff.v1.schema.json"));
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let dir = scratch("schema-diff-run");
    let out = gauntlet(&["run", "--quiet", "--lane", "preflight", "--out", dir.to_str().unwrap()], &repo_root());
    assert!(out.code().unwrap() < 2, "{}", stderr(&out));
    let diff_dir = scratch("schema-diff-out");
    let out = gauntlet(
        &["diff", dir.to_str().unwrap(), dir.to_str().unwrap(), "--out", diff_dir.to_str().unwrap()],
        &repo_root(),
    );
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let diff = read_json(&diff_dir.join("diff.json"));
    let errors: Vec<String> = validator.iter_errors(&diff).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut broken = diff.clone();
    broken["exit-code"] = serde_json::json!("one");
    assert!(!validator.is_valid(&broken));
}
