//! Fixture suites and golden decision snapshots.

use crate::helpers::*;

fn project_with_fixture(name: &str) -> std::path::PathBuf {
    let corpus = (0..5)
        .map(|i| {
            format!(
                "{{\"id\":\"c{i}\",\"input\":\"Tell me about topic {i}.\",\"label\":\"benign\",\"category\":\"x\"}}\n"
            )
        })
        .collect::<String>();
    let dir = project(name, &corpus, "");
    write(
        &dir.join("fixtures/suite.toml"),
        "[[case]]\nname = \"rain\"\ninput = \"Explain how rain forms.\"\nexpect = \"allow\"\n\n[[case]]\nref = \"c1\"\nexpect = \"allow\"\n",
    );
    dir
}

#[test]
fn fixture_mismatch_fails_its_suite_gate_naming_the_case() {
    let dir = project_with_fixture("fixture-mismatch");
    write(
        &dir.join("fixtures/suite.toml"),
        "[[case]]\nname = \"rain\"\ninput = \"Explain how rain forms.\"\nexpect = \"block\"\ntracking = \"SEC-7\"\n",
    );
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(out.code(), Some(1));
    let v = read_json(&dir.join("reports/verdict.json"));
    let g = v["gates"].as_array().unwrap().iter().find(|g| g["id"] == "fixtures:suite").unwrap();
    assert_eq!(g["status"], "fail");
    assert!(g["detail"].as_str().unwrap().contains("rain: expected block, got allow"), "{}", g["detail"]);
    assert_eq!(v["fixtures"][0]["cases"][0]["tracking"], "SEC-7");
}

#[test]
fn unknown_fixture_ref_is_an_input_error() {
    let dir = project_with_fixture("fixture-bad-ref");
    write(&dir.join("fixtures/suite.toml"), "[[case]]\nref = \"nope\"\nexpect = \"allow\"\n");
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).contains("suite.toml:1: error[unknown-ref]"), "{}", stderr(&out));
}

#[test]
fn fixture_case_waiver_applies_to_that_case() {
    let dir = project_with_fixture("fixture-waiver");
    write(
        &dir.join("fixtures/suite.toml"),
        "[[case]]\nname = \"rain\"\ninput = \"Explain how rain forms.\"\nexpect = \"block\"\n",
    );
    write(
        &dir.join("waivers/w.toml"),
        "[[waiver]]\nid = \"w\"\ncase = \"suite::rain\"\nowner = \"o\"\ncreated = \"2026-11-20\"\nexpires = \"2026-11-30\"\ntracking = \"T\"\nreason = \"r\"\nscope = \"both\"\nremove-when = \"x\"\n",
    );
    let out = gauntlet(&["run", "--quiet", "--today", "2026-11-22"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let v = read_json(&dir.join("reports/verdict.json"));
    let g = v["gates"].as_array().unwrap().iter().find(|g| g["id"] == "fixtures:suite").unwrap();
    assert_eq!(g["status"], "waived");
}

#[test]
fn golden_flip_fails_with_a_diff_bless_accepts_and_ci_writes_nothing() {
    let dir = project_with_fixture("golden-flip");
    std::fs::create_dir_all(dir.join("fixtures/golden")).unwrap();
    // First run: no snapshot yet -> fails, pending file written for review.
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(out.code(), Some(1));
    assert!(dir.join("fixtures/golden/cases.snap.new").exists());
    let out = gauntlet(&["fixtures", "bless"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    assert!(dir.join("fixtures/golden/cases.snap").exists());
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));

    // Flip one case: a rule change that blocks "topic 3".
    let rules = gauntlet::targets::builtin::DEFAULT_RULES.to_string()
        + "\n[[rule]]\nid = \"test-topic3\"\ndescription = \"test\"\nweight = 0.9\npatterns = ['topic 3']\n";
    write(&dir.join("rules.toml"), &rules);
    write(&dir.join("gauntlet.toml"), "[target]\nkind = \"builtin\"\nrules = \"rules.toml\"\n");
    let snapshot_before = std::fs::read(dir.join("fixtures/golden/cases.snap")).unwrap();
    let _ = std::fs::remove_file(dir.join("fixtures/golden/cases.snap.new"));

    // In CI nothing is written.
    let out = gauntlet_with_env(&["run", "--quiet"], &dir, &[("CI", "true")]);
    assert_eq!(out.code(), Some(1));
    assert!(!dir.join("fixtures/golden/cases.snap.new").exists(), "CI=true must not write snapshots");
    assert_eq!(std::fs::read(dir.join("fixtures/golden/cases.snap")).unwrap(), snapshot_before);
    let v = read_json(&dir.join("reports/verdict.json"));
    let golden = &v["golden"][0];
    assert_eq!(golden["status"], "changed");
    assert_eq!(golden["flips"], 1);
    assert!(
        golden["diff"].as_str().unwrap().starts_with("flipped decisions (1):\n  c3: benign allow -> block"),
        "{}",
        golden["diff"]
    );
    // Bless is refused in CI, accepted locally.
    let out = gauntlet_with_env(&["fixtures", "bless"], &dir, &[("CI", "true")]);
    assert_eq!(out.code(), Some(2));
    assert_eq!(gauntlet(&["fixtures", "bless"], &dir).code(), Some(0));
    assert_eq!(gauntlet(&["run", "--quiet"], &dir).code(), Some(0));
}

#[test]
fn bundled_project_runs_clean() {
    let dir = scratch("bundled-clean");
    let out = gauntlet(&["run", "--quiet", "--lane", "preflight", "--out", dir.to_str().unwrap()], &repo_root());
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let v = read_json(&dir.join("verdict.json"));
    // Latency is a timing of this (busy, debug-build) test machine, not a property of the project.
    for g in v["gates"].as_array().unwrap().iter().filter(|g| !g["metric"].as_str().unwrap().starts_with("latency")) {
        assert_eq!(g["status"], "pass", "{}", g["id"]);
    }
    assert!(v["gates"].as_array().unwrap().iter().any(|g| g["id"] == "fixtures:smoke"));
    assert!(v["gates"].as_array().unwrap().iter().any(|g| g["id"] == "golden:gauntlet-bundled"));
    assert_eq!(v["waivers"]["waivers"].as_array().unwrap().len(), 0, "the repo ships no live waiver");
}

#[test]
fn check_determinism_and_repeat_on_the_builtin_target() {
    let dir = project_with_fixture("determinism-repeat");
    let out = gauntlet(&["run", "--quiet", "--check-determinism", "--repeat", "3"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let v = read_json(&dir.join("reports/verdict.json"));
    let g = v["gates"].as_array().unwrap().iter().find(|g| g["id"] == "determinism").unwrap();
    assert_eq!(g["status"], "pass");
    let flip = &v["metrics"]["overall"]["flip-rate"];
    assert_eq!(flip["denominator"], 5);
    assert_eq!(flip["numerator"], 0);
}
