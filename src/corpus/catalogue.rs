//! Ready-made manifests for widely used public datasets, each pinned to an
//! immutable revision (a git commit or a Hugging Face dataset revision) with
//! its source, licence and label and category mapping. `gauntlet corpus
//! add NAME` copies one into the project; `corpus fetch` downloads it and
//! locks its hash on first use (no `sha256` is given here: none of these
//! files could be read byte for byte when the catalogue was written).

use std::path::Path;

use super::manifest::Manifest;

/// A catalogue entry: its name and its corpus.toml.
pub struct Entry {
    pub name: &'static str,
    pub manifest: &'static str,
}

pub const CATALOGUE: &[Entry] = &[
    Entry { name: "bipia-email", manifest: include_str!("catalogue/bipia-email.toml") },
    Entry { name: "deepset-prompt-injections", manifest: include_str!("catalogue/deepset-prompt-injections.toml") },
    Entry { name: "do-not-answer", manifest: include_str!("catalogue/do-not-answer.toml") },
    Entry { name: "jbb-benign", manifest: include_str!("catalogue/jbb-benign.toml") },
    Entry { name: "jbb-harmful", manifest: include_str!("catalogue/jbb-harmful.toml") },
    Entry { name: "tensor-trust-hijacking", manifest: include_str!("catalogue/tensor-trust-hijacking.toml") },
    Entry { name: "xstest", manifest: include_str!("catalogue/xstest.toml") },
];

pub fn find(name: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.name == name)
}

impl Entry {
    /// The entry's manifest, parsed (every entry parses: a unit test says so).
    pub fn parsed(&self) -> Manifest {
        Manifest::parse(Path::new(&format!("catalogue/{}/corpus.toml", self.name)), self.manifest)
            .unwrap_or_else(|d| panic!("catalogue entry {} is invalid: {d:?}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_parses_and_is_pinned_to_a_full_commit() {
        for entry in CATALOGUE {
            let m = entry.parsed();
            assert_eq!(m.name, entry.name);
            assert!(m.license.is_some() && m.source.is_some(), "{}", entry.name);
            let url = &m.fetch.as_ref().expect("every entry is fetched").url;
            let pinned = url.split('/').any(|seg| seg.len() == 40 && seg.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(pinned, "{} is not pinned to a commit: {url}", entry.name);
            assert!(url.starts_with("https://"), "{url}");
        }
        let mut names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
    }
}
