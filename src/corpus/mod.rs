//! Corpora: labelled cases loaded from JSONL and CSV files.
//!
//! A case is what the target sees (its payload and optional context) plus
//! what only the harness knows (label, category, expected decision). The
//! payload is an enum so that text prompts, structured policy requests and
//! conversations share one pipeline.

mod case_builder;
pub mod catalogue;
pub mod fetch;
mod ids;
mod jsonl;
mod load;
pub(crate) mod manifest;
mod mapping_check;
mod parquet;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use load::{load_corpora, load_corpora_reporting, CorpusSet, CorpusSummary};
pub use manifest::Manifest;

/// Ground truth of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Label {
    Benign,
    Adversarial,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Benign => "benign",
            Label::Adversarial => "adversarial",
        }
    }

    pub fn parse(s: &str) -> Option<Label> {
        match s {
            "benign" => Some(Label::Benign),
            "adversarial" => Some(Label::Adversarial),
            _ => None,
        }
    }
}

/// What a gate answers.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Block,
    RequireApproval,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Block => "block",
            Decision::RequireApproval => "require_approval",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "allow" => Some(Decision::Allow),
            "block" => Some(Decision::Block),
            "require_approval" => Some(Decision::RequireApproval),
            _ => None,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way the checked text flows: a prompt going in, or model output going out.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    #[default]
    Ingress,
    Egress,
}

/// One message of a conversation case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// What the target is asked to judge. Sent to targets unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Payload {
    /// A prompt, or a model response for egress gates.
    Text(String),
    /// A conversation, judged turn by turn.
    Conversation(Vec<Message>),
    /// A structured request for a policy engine; the built-in firewall scans its string leaves.
    Structured(serde_json::Map<String, serde_json::Value>),
}

impl Payload {
    /// Calls `f` on every piece of text in the payload, in a fixed order.
    pub fn for_each_text<'a>(&'a self, f: &mut impl FnMut(&'a str)) {
        match self {
            Payload::Text(s) => f(s),
            Payload::Conversation(messages) => messages.iter().for_each(|m| f(&m.content)),
            Payload::Structured(map) => map.values().for_each(|v| visit_strings(v, f)),
        }
    }

    /// Gives back spare capacity: text built a character at a time can hold
    /// up to twice its length, which a million generated variants pay for
    /// until the run ends.
    pub fn shrink_to_fit(&mut self) {
        match self {
            Payload::Text(s) => s.shrink_to_fit(),
            Payload::Conversation(messages) => messages.iter_mut().for_each(|m| m.content.shrink_to_fit()),
            Payload::Structured(_) => {}
        }
    }

    /// A one-line human rendering, for reports.
    pub fn display_text(&self) -> String {
        match self {
            Payload::Text(s) => s.clone(),
            Payload::Conversation(messages) => {
                messages.iter().map(|m| format!("[{}] {}", m.role, m.content)).collect::<Vec<_>>().join(" ")
            }
            Payload::Structured(map) => serde_json::to_string(map).unwrap_or_default(),
        }
    }
}

fn visit_strings<'a>(value: &'a serde_json::Value, f: &mut impl FnMut(&'a str)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| visit_strings(v, f)),
        serde_json::Value::Object(map) => map.values().for_each(|v| visit_strings(v, f)),
        _ => {}
    }
}

/// Where a case came from, for diagnostics and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub path: Arc<PathBuf>,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// One labelled input. Category and source strings repeat across many cases,
/// so they are shared rather than copied.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub payload: Payload,
    pub label: Label,
    pub category: Arc<str>,
    pub source: Arc<str>,
    pub tags: Vec<Arc<str>>,
    pub expected: Option<Decision>,
    pub direction: Direction,
    /// Free-form context passed to the target (the prompt behind a response, a tenant, a session).
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
    /// The dataset (manifest `name`, or file stem) the case belongs to.
    pub dataset: Arc<str>,
    /// For an attack conversation: the index of the first message that must be blocked.
    pub expected_first_block: Option<u32>,
    pub origin: Origin,
    /// For a robustness variant: the transform chain that made it.
    pub transform: Option<Arc<str>>,
    /// For a robustness variant: the original case's id.
    pub variant_of: Option<String>,
}

impl Case {
    /// The case as a corpus JSONL line (the documented keys; `origin` and
    /// `transform` for a variant), so a generated corpus can be reviewed,
    /// committed and loaded back as it is.
    pub fn to_corpus_line(&self) -> serde_json::Value {
        let mut line = serde_json::Map::new();
        line.insert("id".into(), self.id.clone().into());
        match &self.payload {
            Payload::Text(t) => line.insert("input".into(), t.clone().into()),
            Payload::Structured(m) => line.insert("input".into(), serde_json::Value::Object(m.clone())),
            Payload::Conversation(m) => {
                line.insert("messages".into(), serde_json::to_value(m).expect("messages serialise"))
            }
        };
        line.insert("label".into(), self.label.as_str().into());
        line.insert("category".into(), self.category.to_string().into());
        line.insert("source".into(), self.source.to_string().into());
        if !self.tags.is_empty() {
            line.insert("tags".into(), self.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>().into());
        }
        if let Some(e) = self.expected {
            line.insert("expected".into(), e.as_str().into());
        }
        if self.direction == Direction::Egress {
            line.insert("direction".into(), "egress".into());
        }
        if let Some(c) = &self.context {
            line.insert("context".into(), serde_json::Value::Object(c.clone()));
        }
        if let Some(i) = self.expected_first_block {
            line.insert("expected-first-block".into(), i.into());
        }
        if let (Some(o), Some(t)) = (&self.variant_of, &self.transform) {
            line.insert("origin".into(), o.clone().into());
            line.insert("transform".into(), t.to_string().into());
        }
        serde_json::Value::Object(line)
    }
}

#[cfg(test)]
impl Case {
    /// A minimal benign text case for unit tests.
    pub(crate) fn sample(id: &str, text: &str) -> Case {
        Case {
            id: id.into(),
            payload: Payload::Text(text.into()),
            label: Label::Benign,
            category: Arc::from("c"),
            source: Arc::from("s"),
            tags: vec![],
            expected: None,
            direction: Direction::Ingress,
            context: None,
            dataset: Arc::from("d"),
            expected_first_block: None,
            origin: Origin { path: Arc::new("f".into()), line: 1 },
            transform: None,
            variant_of: None,
        }
    }
}

/// Dataset metadata from a `corpus.toml`, reported in the verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DatasetInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub license: Option<String>,
    /// Where `gauntlet corpus fetch` downloaded it from (`[fetch] url`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
    /// The fetched file's SHA-256, as verified before this run read it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    pub files: Vec<String>,
    pub cases: usize,
    pub by_label: BTreeMap<Label, usize>,
}
