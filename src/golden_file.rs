//! Decision snapshot files under `fixtures/golden/`, in insta's `.snap`
//! format so `cargo insta review` can accept pending `.snap.new` files too.
//! With `CI` set, nothing is ever written: a change fails the run and the
//! diff is in the report.

use std::path::{Path, PathBuf};

use crate::atomic_file::write_bytes;
use crate::errors::Error;

pub fn snapshot_path(golden_dir: &Path, dataset: &str) -> PathBuf {
    let safe: String = dataset
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    golden_dir.join(format!("{safe}.snap"))
}

pub fn pending_path(snapshot: &Path) -> PathBuf {
    let mut p = snapshot.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

/// True when running in CI (insta's rule: `CI` set to anything but false/0).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn header(dataset: &str) -> String {
    format!("---\nsource: gauntlet\nexpression: decisions of corpus {dataset}\n---\n")
}

/// The body of a snapshot file (everything after the header), if it exists.
pub fn read_body(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(rest[end + 5..].to_string())
}

pub fn write_snapshot(path: &Path, dataset: &str, body: &str) -> Result<(), Error> {
    write_bytes(path, format!("{}{body}", header(dataset)).as_bytes())
}
