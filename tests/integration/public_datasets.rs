//! Public datasets (copies in tests/data/public, with their licences) load
//! with only a corpus.toml added. Nothing here reads outside the repository.

use std::path::PathBuf;

use crate::helpers::*;

fn public(name: &str) -> PathBuf {
    repo_root().join("tests/data/public").join(name)
}

/// Copies a public dataset and our manifest for it into a fresh project.
fn project_with_public(names: &[&str], scratch_name: &str) -> PathBuf {
    let dir = scratch(scratch_name);
    for name in names {
        let dst = dir.join("corpora").join(name);
        std::fs::create_dir_all(&dst).unwrap();
        for entry in std::fs::read_dir(public(name)).unwrap() {
            let entry = entry.unwrap();
            let file = entry.file_name();
            // Only the data: a LICENSE beside it is not a corpus file anyway.
            if file.to_string_lossy().ends_with(".csv") || file.to_string_lossy().ends_with(".jsonl") {
                std::fs::copy(entry.path(), dst.join(&file)).unwrap();
            }
        }
        std::fs::copy(repo_root().join("tests/data/manifests").join(name).join("corpus.toml"), dst.join("corpus.toml"))
            .unwrap();
    }
    write(&dir.join("gauntlet.toml"), "[target]\nkind = \"builtin\"\n");
    write(&dir.join("gates/gates.toml"), ALWAYS_PASSING_GATE);
    dir
}

#[test]
fn public_datasets_load_with_only_a_manifest() {
    let dir = project_with_public(&["jailbreakbench", "giskard", "bipia-email"], "public-all");
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
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
    let dir = project_with_public(&["bipia-email"], "public-reorder");
    let ids = |dir: &PathBuf| -> std::collections::BTreeMap<String, String> {
        let out = gauntlet(&["run", "--quiet"], dir);
        assert!(out.code().unwrap() < 2, "{}", stderr(&out));
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
