//! Has the project changed since a verdict was produced? Compares the
//! hashes a verdict records (config, corpora, gates, target) with the
//! project as it is now. `release` refuses stale evidence with it, and
//! `report --from` warns.

use crate::config::Config;
use crate::corpus::load_corpora;
use crate::hashing::{hash_dir, sha256_hex};
use crate::report::Hashes;

/// One recorded hash that no longer matches the project.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// `config`, `corpora`, `gates` or `target`.
    pub what: &'static str,
    pub recorded: String,
    /// `None` when the current value cannot be computed (corpora that no
    /// longer load, a target that cannot be built).
    pub current: Option<String>,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |h: &str| h.chars().take(12).collect::<String>();
        match &self.current {
            Some(now) => write!(f, "{} hash {} is now {}", self.what, short(&self.recorded), short(now)),
            None => write!(
                f,
                "{} hash {} cannot be checked: the {} no longer load",
                self.what,
                short(&self.recorded),
                self.what
            ),
        }
    }
}

/// The recorded hashes that differ from the project's current ones.
pub fn drift(recorded: &Hashes, config: &Config) -> Vec<Drift> {
    let corpora = load_corpora(&config.corpora, &config.base).ok().map(|c| c.summary.hash);
    let target = crate::targets::from_config(&config.target, &config.spec_file()).ok().map(|t| t.fingerprint().hash);
    let current = [
        ("config", &recorded.config, Some(sha256_hex(config.text.as_bytes()))),
        ("corpora", &recorded.corpora, corpora),
        ("gates", &recorded.gates, Some(hash_dir(&config.gates, "toml"))),
        ("target", &recorded.target, target),
    ];
    current
        .into_iter()
        .filter(|(_, was, now)| now.as_deref() != Some(was.as_str()))
        .map(|(what, was, now)| Drift { what, recorded: was.clone(), current: now })
        .collect()
}
