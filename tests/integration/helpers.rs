use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch folder under the target directory, removed and recreated.
pub fn scratch(name: &str) -> PathBuf {
    let dir = repo_root().join("target").join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn gauntlet(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .current_dir(dir)
        .env_remove("GAUNTLET_TODAY")
        // Tests that need CI behaviour (no snapshot writes) set it themselves.
        .env_remove("CI")
        .output()
        .expect("gauntlet runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A minimal builtin project with one corpus file and the given gates.
pub fn project(name: &str, corpus: &str, gates: &str) -> PathBuf {
    let dir = scratch(name);
    write(&dir.join("gauntlet.toml"), "[target]\nkind = \"builtin\"\n");
    write(&dir.join("corpora/cases.jsonl"), corpus);
    write(&dir.join("gates/gates.toml"), gates);
    dir
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
