//! `gauntlet corpus fetch | add | list`: public datasets into a project.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::corpus::catalogue::{self, CATALOGUE};
use crate::corpus::fetch::{self, Fetched};
use crate::errors::{Code, Diagnostic, Error};

/// Every corpus.toml with a `[fetch]` table under the config's corpora.
fn fetch_manifests(config: &Config) -> Result<Vec<crate::corpus::Manifest>, Error> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for root in &config.corpora {
        let walk = walkdir::WalkDir::new(root).sort_by_file_name().into_iter();
        for entry in walk.filter_entry(|e| e.file_name() != ".gauntlet").flatten() {
            if entry.file_type().is_file() && entry.file_name() == "corpus.toml" {
                match crate::corpus::Manifest::load(entry.path()) {
                    Ok(m) if m.fetch.is_some() => found.push(m),
                    Ok(_) => {}
                    Err(mut d) => problems.append(&mut d),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    Ok(found)
}

/// One line per dataset fetched (or found up to date).
pub fn fetch_datasets(config_path: &Path, quiet: bool) -> Result<Vec<String>, Error> {
    let config = Config::load(config_path)?;
    let manifests = fetch_manifests(&config)?;
    if manifests.is_empty() {
        return Err(Error::Usage(format!(
            "no corpus.toml under the corpora of {} has a [fetch] table (`gauntlet corpus add NAME` adds one)",
            config_path.display()
        )));
    }
    let mut lines = Vec::new();
    let mut first_error = None;
    for m in &manifests {
        let spec = m.fetch.as_ref().expect("only manifests with [fetch]");
        let step = super::progress::Step::bytes(&m.name, 0);
        match super::progress::with_progress(step, quiet, |p| fetch::fetch(&config.base, &m.path, &m.name, spec, p)) {
            Ok(Fetched::UpToDate { sha256 }) => lines.push(format!("{}: up to date (sha256 {sha256})", m.name)),
            Ok(Fetched::Verified { sha256, bytes }) => {
                lines.push(format!("{}: fetched {bytes} bytes, sha256 {sha256} as locked", m.name))
            }
            Ok(Fetched::Locked { sha256, bytes }) => lines.push(format!(
                "{}: fetched {bytes} bytes, sha256 {sha256}, now locked in {} (trust on first use: commit it)",
                m.name,
                fetch::Lock::path(&m.path).display()
            )),
            Err(e) => {
                lines.push(format!("{}: failed", m.name));
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => {
            for line in &lines {
                eprintln!("{line}");
            }
            Err(e)
        }
        None => Ok(lines),
    }
}

/// `corpus add NAME`: the catalogue's manifest into `<first corpora folder>/NAME/`.
pub fn add_dataset(config_path: &Path, name: &str) -> Result<PathBuf, Error> {
    let Some(entry) = catalogue::find(name) else {
        let names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
        return Err(Diagnostic::new(
            config_path,
            Code::UnknownDataset,
            format!("no dataset `{name}` in the catalogue; it has {}", names.join(", ")),
        )
        .into());
    };
    let config = Config::load(config_path)?;
    let root = config
        .corpora
        .iter()
        .find(|p| p.is_dir())
        .ok_or_else(|| Error::Usage("the config's corpora list no folder to add the dataset to".into()))?;
    let target = root.join(entry.name).join("corpus.toml");
    if target.exists() {
        return Err(
            Diagnostic::new(&target, Code::FileExists, "already exists; remove it to add the dataset again").into()
        );
    }
    crate::atomic_file::write_bytes(&target, entry.manifest.as_bytes())?;
    Ok(target)
}

/// `corpus list`: the catalogue, with licences and pinned URLs.
pub fn list_datasets() -> String {
    let mut out = String::new();
    for entry in CATALOGUE {
        let m = entry.parsed();
        out.push_str(&format!(
            "{}\n  licence: {}\n  source:  {}\n  url:     {}\n",
            m.name,
            m.license.as_deref().unwrap_or("-"),
            m.source.as_deref().unwrap_or("-"),
            m.fetch.as_ref().map_or("-", |f| f.url.as_str())
        ));
    }
    out
}
