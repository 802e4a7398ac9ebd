//! `corpus.toml`: names a dataset and maps its columns, so a public dataset
//! loads unchanged, with no code change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Direction, Label};
use crate::errors::{toml_diagnostic, Code, Diagnostic};
use crate::toml_spans::TomlSpans;

/// Declares a config struct that carries the mapping keys beside its own,
/// spelled out rather than `#[serde(flatten)]`, which would disable
/// `deny_unknown_fields` and lose the error positions.
macro_rules! with_mapping_fields {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// The column or key holding the text (`/a/b` is a JSON pointer).
            pub input: Option<String>,
            /// The column or key holding a conversation (`{role, content}` list).
            pub messages: Option<String>,
            /// The column or key holding the id (default: derived from the content).
            pub id: Option<String>,
            /// The column or key holding the label.
            pub label: Option<String>,
            /// The column or key holding the category.
            pub category: Option<String>,
            /// The column or key holding the case's source.
            pub source_field: Option<String>,
            /// The column or key holding tags (`;`-separated in CSV).
            pub tags: Option<String>,
            /// The column or key holding the expected decision.
            pub expected: Option<String>,
            /// The column or key holding `ingress` or `egress`.
            pub direction: Option<String>,
            /// Fields copied into the case's context object.
            pub context: Option<Vec<String>>,
            /// The dataset's label values mapped to benign or adversarial.
            pub label_map: Option<BTreeMap<String, Label>>,
            /// The label of every case when no column gives one.
            pub default_label: Option<Label>,
            /// The category of every case when no column gives one.
            pub default_category: Option<String>,
            /// The direction of every case when no column gives one.
            pub default_direction: Option<Direction>,
        }

        impl $name {
            fn mapping(&self) -> Mapping {
                Mapping {
                    input: self.input.clone(),
                    messages: self.messages.clone(),
                    id: self.id.clone(),
                    label: self.label.clone(),
                    category: self.category.clone(),
                    source_field: self.source_field.clone(),
                    tags: self.tags.clone(),
                    expected: self.expected.clone(),
                    direction: self.direction.clone(),
                    context: self.context.clone(),
                    label_map: self.label_map.clone(),
                    default_label: self.default_label,
                    default_category: self.default_category.clone(),
                    default_direction: self.default_direction,
                }
            }
        }
    };
}

/// How the fields of one data file map onto a case. Each field names a
/// column (CSV) or a key (JSONL; a leading `/` makes it a JSON pointer).
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub input: Option<String>,
    pub messages: Option<String>,
    pub id: Option<String>,
    pub label: Option<String>,
    pub category: Option<String>,
    pub source_field: Option<String>,
    pub tags: Option<String>,
    pub expected: Option<String>,
    pub direction: Option<String>,
    pub context: Option<Vec<String>>,
    pub label_map: Option<BTreeMap<String, Label>>,
    pub default_label: Option<Label>,
    pub default_category: Option<String>,
    pub default_direction: Option<Direction>,
}

impl Mapping {
    /// Per-file values override the folder-level defaults.
    fn overlay(&self, over: &Mapping) -> Mapping {
        macro_rules! pick {
            ($($f:ident),*) => { Mapping { $($f: over.$f.clone().or_else(|| self.$f.clone())),* } };
        }
        pick!(
            input,
            messages,
            id,
            label,
            category,
            source_field,
            tags,
            expected,
            direction,
            context,
            label_map,
            default_label,
            default_category,
            default_direction
        )
    }
}

with_mapping_fields! {
    struct RawFileEntry {
        /// The data file, relative to corpus.toml (JSONL, CSV or Parquet).
        path: String,
    }
}

with_mapping_fields! {
    /// corpus.toml.
    struct RawManifest {
        /// The dataset's name, shown in reports (default: the folder's).
        name: String,
        /// Where the data comes from (a repository, a paper).
        source: Option<String>,
        /// The data's licence (an SPDX id where there is one).
        license: Option<String>,
        /// Prepended to every id, from a column or derived, so datasets with
        /// numeric ids can live side by side.
        id_prefix: Option<String>,
        /// Data files with their own mapping (`[[file]]`); default: every data file beside it.
        #[serde(default)]
        file: Vec<RawFileEntry>,
        /// The data file is downloaded by `gauntlet corpus fetch`.
        fetch: Option<super::fetch::FetchSpec>,
    }
}

/// A parsed `corpus.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub name: String,
    pub source: Option<String>,
    pub license: Option<String>,
    pub id_prefix: Option<String>,
    /// Where the data file comes from, when it is fetched (`[fetch]`).
    pub fetch: Option<super::fetch::FetchSpec>,
    defaults: Mapping,
    files: Vec<(globset::GlobMatcher, String, Mapping)>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest, Vec<Diagnostic>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![Diagnostic::new(path, Code::UnreadableFile, e.to_string())])?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Manifest, Vec<Diagnostic>> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| vec![toml_diagnostic(path, text, &e)])?;
        let spans = TomlSpans::parse(text);
        let mut problems = Vec::new();
        let mut files = Vec::new();
        let defaults = raw.mapping();
        for (i, entry) in raw.file.iter().enumerate() {
            match globset::Glob::new(&entry.path) {
                Ok(glob) => {
                    files.push((glob.compile_matcher(), entry.path.clone(), defaults.overlay(&entry.mapping())))
                }
                Err(e) => problems.push(
                    Diagnostic::new(path, Code::InvalidGlob, e.to_string())
                        .at_key(&spans, &["file", &i.to_string(), "path"]),
                ),
            }
        }
        if raw.name.trim().is_empty() {
            problems
                .push(Diagnostic::new(path, Code::EmptyField, "`name` must not be empty").at_key(&spans, &["name"]));
        }
        if let Some(fetch) = &raw.fetch {
            problems.extend(fetch.check(path, &spans));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            name: raw.name,
            source: raw.source,
            license: raw.license,
            id_prefix: raw.id_prefix,
            fetch: raw.fetch,
            defaults,
            files,
        })
    }

    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The mapping for a data file: the first `[[file]]` whose glob matches
    /// its path relative to the manifest, else the folder defaults.
    pub fn mapping_for(&self, data_file: &Path) -> &Mapping {
        let relative = data_file.strip_prefix(self.dir()).unwrap_or(data_file);
        self.files.iter().find(|(glob, _, _)| glob.is_match(relative)).map(|(_, _, m)| m).unwrap_or(&self.defaults)
    }

    /// `[[file]]` patterns that matched none of `data_files`: reported, as a
    /// mapping that applies to nothing is almost always a typo.
    pub fn unmatched_patterns(&self, data_files: &[PathBuf]) -> Vec<Diagnostic> {
        let spans = TomlSpans::parse(&std::fs::read_to_string(&self.path).unwrap_or_default());
        self.files
            .iter()
            .enumerate()
            .filter(|(_, (glob, _, _))| {
                !data_files.iter().any(|f| glob.is_match(f.strip_prefix(self.dir()).unwrap_or(f)))
            })
            .map(|(i, (_, pattern, _))| {
                Diagnostic::new(
                    &self.path,
                    Code::UnmatchedFilePattern,
                    format!("[[file]] path `{pattern}` matches no data file"),
                )
                .at_key(&spans, &["file", &i.to_string(), "path"])
            })
            .collect()
    }
}
