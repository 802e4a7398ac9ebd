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

/// A finished gauntlet process. Its exit code is the verdict, so a test
/// must look at it: dropping a `Ran` whose `code()` was never read panics.
#[must_use = "check the exit code with .code()"]
pub struct Ran {
    output: Output,
    code_read: std::cell::Cell<bool>,
}

impl Ran {
    pub fn code(&self) -> Option<i32> {
        self.code_read.set(true);
        self.output.status.code()
    }
}

impl std::ops::Deref for Ran {
    type Target = Output;
    fn deref(&self) -> &Output {
        &self.output
    }
}

impl Drop for Ran {
    fn drop(&mut self) {
        if !self.code_read.get() && !std::thread::panicking() {
            panic!("a test ignored gauntlet's exit code; stderr: {}", stderr(&self.output));
        }
    }
}

pub fn gauntlet(args: &[&str], dir: &Path) -> Ran {
    gauntlet_with_env(args, dir, &[])
}

/// As [`gauntlet`], with extra environment variables (e.g. `CI`).
pub fn gauntlet_with_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .current_dir(dir)
        .env_remove("GAUNTLET_TODAY")
        // Tests that need CI behaviour (no snapshot writes) set it themselves.
        .env_remove("CI")
        .envs(env.iter().copied())
        .output()
        .expect("gauntlet runs");
    Ran { output, code_read: std::cell::Cell::new(false) }
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

/// A gate that always passes, for tests about something else: a run needs
/// at least one gate.
pub const ALWAYS_PASSING_GATE: &str = "[[gate]]\nid = \"cases-seen\"\nmetric = \"count\"\nmax = 1000000000\n";

/// A minimal builtin project with one corpus file and the given gates (an
/// always-passing gate when none are given).
pub fn project(name: &str, corpus: &str, gates: &str) -> PathBuf {
    let dir = scratch(name);
    write(&dir.join("gauntlet.toml"), "[target]\nkind = \"builtin\"\n");
    write(&dir.join("corpora/cases.jsonl"), corpus);
    write(&dir.join("gates/gates.toml"), if gates.is_empty() { ALWAYS_PASSING_GATE } else { gates });
    dir
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A verdict without its timestamps and timings (latency, queue waits,
/// timeout restarts, the latency
/// gates' values and statuses), for comparing runs.
pub fn without_timings(mut v: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for key in
                    ["started-at", "finished-at", "latency", "latency-histogram", "latency-us", "queue-us", "restarts"]
                {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    if let Some(gates) = v["gates"].as_array_mut() {
        for g in gates.iter_mut().filter(|g| g["metric"].as_str().is_some_and(|m| m.starts_with("latency"))) {
            for key in ["value", "detail", "status"] {
                g.as_object_mut().unwrap().remove(key);
            }
        }
    }
    v
}
