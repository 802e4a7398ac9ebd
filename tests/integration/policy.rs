//! The structured policy-request example: a three-way decision matrix,
//! gates on its cells and a weighted cost, through a real exec process.

use crate::helpers::*;

#[test]
fn policy_example_fills_the_matrix_and_gates_on_its_cells() {
    let dir = scratch("policy-example");
    let example = repo_root().join("examples/policy-gate");
    let out = gauntlet(
        &[
            "run",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
            "--config",
            example.join("gauntlet.toml").to_str().unwrap(),
        ],
        &example,
    );
    assert_eq!(out.code(), Some(1), "two deliberate policy mistakes fail two gates: {}", stderr(&out));
    let v = read_json(&dir.join("verdict.json"));
    let m = &v["metrics"]["overall"]["decision-matrix"];
    assert_eq!(m["block"]["allow"], 1, "{m}");
    assert_eq!(m["block"]["block"], 15);
    assert_eq!(m["allow"]["require_approval"], 1);
    assert_eq!(m["require_approval"]["require_approval"], 11);
    let gate = |id: &str| v["gates"].as_array().unwrap().iter().find(|g| g["id"] == id).unwrap().clone();
    assert_eq!(gate("no-deny-allowed")["status"], "fail");
    assert_eq!(gate("no-deny-allowed")["samples"], 16);
    assert_eq!(gate("approval-on-known-good")["status"], "fail");
    // (1 × 10 + 1 × 1) / 55 cases
    assert!((v["metrics"]["weighted-cost"].as_f64().unwrap() - 11.0 / 55.0).abs() < 1e-9);
    assert_eq!(gate("weighted-cost")["status"], "pass");
    let dashboard = std::fs::read_to_string(dir.join("dashboard.html")).unwrap();
    assert!(dashboard.contains("id=\"decision-matrix\""));
}
