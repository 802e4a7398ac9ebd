//! Public datasets from ../shared/corpora load with only a corpus.toml added.

use std::path::PathBuf;

use crate::helpers::*;

fn shared(name: &str) -> PathBuf {
    repo_root().join("..").join("shared").join("corpora").join(name)
}

/// Copies a shared dataset and our manifest for it into a fresh project.
fn project_with_shared(names: &[&str], scratch_name: &str) -> Option<PathBuf> {
    let dir = scratch(scratch_name);
    for name in names {
        let src = shared(name);
        if !src.exists() {
            return None;
        }
        let dst = dir.join("corpora").join(name);
        std::fs::create_dir_all(&dst).unwrap();
        for entry in std::fs::read_dir(&src).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
        }
        std::fs::copy(repo_root().join("tests/data/manifests").join(name).join("corpus.toml"), dst.join("corpus.toml"))
            .unwrap();
    }
    write(&dir.join("gauntlet.toml"), "[target]\nkind = \"builtin\"\n");
    Some(dir)
}

#[test]
fn shared_datasets_load_with_only_a_manifest() {
    let Some(dir) = project_with_shared(&["jailbreakbench", "giskard", "bipia-email"], "shared-all") else {
        panic!("../shared/corpora is missing: these tests need the shared datasets beside the repo");
    };
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = read_json(&dir.join("reports/verdict.json"));
    let datasets: Vec<(String, u64)> = v["corpora"]["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap().to_string(), d["cases"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        datasets,
        [
            ("bipia-email".to_string(), 50),
            ("giskard-prompt-injections".to_string(), 35),
            ("jailbreakbench".to_string(), 100)
        ]
    );
    // BIPIA repeats 6 of its 50 emails: reported, and ids stay unique.
    assert_eq!(v["corpora"]["repeated-inputs"], 6);
    assert_eq!(v["metrics"]["by-source"]["jailbreakbench"]["adversarial"]["total"], 100);
    assert_eq!(v["metrics"]["by-category"]["Malware/Hacking"]["adversarial"]["total"], 10);
}

/// Derived ids come from content, not line order: reversing a dataset's
/// rows leaves every id attached to the same text.
#[test]
fn derived_ids_survive_reordering() {
    let Some(dir) = project_with_shared(&["bipia-email"], "shared-reorder") else {
        panic!("../shared/corpora missing")
    };
    let ids = |dir: &PathBuf| -> std::collections::BTreeMap<String, String> {
        let out = gauntlet(&["run", "--quiet"], dir);
        assert!(out.status.code().unwrap() < 2, "{}", stderr(&out));
        std::fs::read_to_string(dir.join("reports/results.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["id"].as_str().unwrap().to_string(), v["input"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let before = ids(&dir);
    let file = dir.join("corpora/bipia-email/test.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let reversed: Vec<&str> = text.lines().rev().collect();
    std::fs::write(&file, reversed.join("\n") + "\n").unwrap();
    let after = ids(&dir);
    assert_eq!(before.len(), 50);
    // Distinct contexts keep their ids; repeated emails (same text, different
    // question in context) keep theirs too, because the context is hashed.
    assert_eq!(before, after);
}
