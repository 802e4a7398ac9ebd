//! `[transforms]` in gauntlet.toml: which robustness transforms a run
//! applies, to which labels, in which lanes.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::corpus::Label;
use crate::errors::{Code, Diagnostic};
use crate::evaluate::Lane;
use crate::toml_spans::TomlSpans;
use crate::transform::process::ExecTransform;
use crate::transform::structure::{parse_templates, EMBEDDED_TEMPLATES};
use crate::transform::{all_names, Chain, TransformPlan};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawTransforms {
    /// Chains (`base64`, `base64+markdown-fence`), or `all` for every transform.
    #[serde(default)]
    apply: Vec<String>,
    /// Default: adversarial only.
    labels: Option<Vec<Label>>,
    /// Chains applied to benign cases as well (to measure over-blocking of
    /// harmless encoded or wrapped text), beside `apply` on `labels`.
    #[serde(default)]
    benign: Vec<String>,
    /// Default: the full lane only.
    lanes: Option<Vec<Lane>>,
    #[serde(default)]
    /// Seed of the randomised transforms and of sampling.
    seed: u64,
    /// At most this many originals per chain (the smallest SHA-256 of (seed, id)); 0: all.
    #[serde(default)]
    max_per_transform: usize,
    /// A templates file replacing the embedded one.
    templates: Option<String>,
    /// Transforms made by a process; only `gauntlet corpus expand` runs them.
    #[serde(default)]
    exec: Vec<RawExecTransform>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawExecTransform {
    /// The transform's name: variants are `<id>#<name>`.
    name: String,
    /// Program and arguments, run in the project folder.
    command: Vec<String>,
    /// Default: the table's `labels`.
    labels: Option<Vec<Label>>,
}

/// A validated `[transforms]` table.
#[derive(Debug, Clone)]
pub struct TransformConfig {
    pub plan: TransformPlan,
    pub lanes: Vec<Lane>,
    /// Process-made transforms, for `corpus expand` only.
    pub exec: Vec<ExecTransform>,
}

impl TransformConfig {
    /// The plan when this lane applies transforms.
    pub fn for_lane(&self, lane: Lane) -> Option<&TransformPlan> {
        (self.lanes.contains(&lane) && !self.plan.chains.is_empty()).then_some(&self.plan)
    }
}

pub(super) fn validate(
    raw: &RawTransforms,
    path: &Path,
    spans: &TomlSpans,
    base: &Path,
    problems: &mut Vec<Diagnostic>,
) -> Option<TransformConfig> {
    let at = |key: &[&str], message: String| Diagnostic::new(path, Code::UnknownTransform, message).at_key(spans, key);
    if raw.apply.is_empty() && raw.benign.is_empty() && raw.exec.is_empty() {
        return None;
    }
    let templates_text = match &raw.templates {
        Some(file) => match std::fs::read_to_string(base.join(file)) {
            Ok(t) => t,
            Err(e) => {
                problems.push(at(&["transforms", "templates"], format!("templates file {file}: {e}")));
                return None;
            }
        },
        None => EMBEDDED_TEMPLATES.to_string(),
    };
    let templates: Vec<Arc<_>> = match parse_templates(&templates_text) {
        Ok(t) => t.into_iter().map(Arc::new).collect(),
        // Reported in the templates file itself, where the fix goes.
        Err(e) => {
            let problem = match &raw.templates {
                Some(file) => {
                    let d = Diagnostic::new(&base.join(file), Code::UnknownTransform, e.message);
                    match e.at {
                        Some((line, column)) => d.at(line, column),
                        None => d,
                    }
                }
                None => at(&["transforms", "templates"], format!("templates: {}", e.message)),
            };
            problems.push(problem);
            return None;
        }
    };
    // `all` stands for every single transform; chains listed beside it are
    // kept. Each name keeps the index of the list item that named it.
    let expand = |list: &[String]| -> Vec<(String, usize)> {
        let mut names = Vec::new();
        for (i, a) in list.iter().enumerate() {
            if a == "all" {
                names.extend(all_names(&templates).into_iter().filter(|n| !list.contains(n)).map(|n| (n, i)));
            } else {
                names.push((a.clone(), i));
            }
        }
        names
    };
    let labels = raw.labels.clone().unwrap_or_else(|| vec![Label::Adversarial]);
    let wanted = expand(&raw.apply)
        .into_iter()
        .map(|(n, i)| (n, i, false))
        .chain(expand(&raw.benign).into_iter().map(|(n, i)| (n, i, true)));
    let mut chains: Vec<(Chain, Vec<Label>)> = Vec::new();
    let exec = validate_exec(raw, path, spans, base, &templates, &labels, problems);
    for (name, index, benign) in wanted {
        let item = [if benign { "benign" } else { "apply" }, &index.to_string()].map(str::to_string);
        let here = ["transforms", &item[0], &item[1]];
        if let Some(e) = name.split('+').find(|step| exec.iter().any(|e| e.name == step.trim())) {
            problems.push(
                Diagnostic::new(
                    path,
                    Code::UnknownTransform,
                    format!(
                        "`{}` is an exec transform: it runs only in `gauntlet corpus expand`, whose output \
                         the run then reads as a corpus (a process may not answer the same way twice)",
                        e.trim()
                    ),
                )
                .at_key(spans, &here),
            );
            continue;
        }
        match Chain::parse(&name, &templates) {
            Ok(c) => match chains.iter_mut().find(|(x, _)| x.name == c.name) {
                // `apply` and `benign` may name the same chain: it covers both.
                Some((_, l)) if benign && !l.contains(&Label::Benign) => l.push(Label::Benign),
                Some(_) => problems.push(at(&here, format!("transform `{name}` is listed twice"))),
                None if benign => chains.push((c, vec![Label::Benign])),
                None => chains.push((c, labels.clone())),
            },
            Err(e) => problems.push(at(&here, format!("{e} (known: {})", all_names(&templates).join(", ")))),
        }
    }
    Some(TransformConfig {
        plan: TransformPlan { chains, seed: raw.seed, max_per_transform: raw.max_per_transform },
        lanes: raw.lanes.clone().unwrap_or_else(|| vec![Lane::Full]),
        exec,
    })
}

fn validate_exec(
    raw: &RawTransforms,
    path: &Path,
    spans: &TomlSpans,
    base: &Path,
    templates: &[Arc<crate::transform::structure::Template>],
    labels: &[Label],
    problems: &mut Vec<Diagnostic>,
) -> Vec<ExecTransform> {
    let mut out: Vec<ExecTransform> = Vec::new();
    for (i, e) in raw.exec.iter().enumerate() {
        let problem = if e.name.is_empty() || e.name.contains(['+', '#']) || e.name.contains(char::is_whitespace) {
            Some(format!("exec transform name `{}` must be non-empty, without `+`, `#` or spaces", e.name))
        } else if all_names(templates).contains(&e.name) || out.iter().any(|o| o.name == e.name) {
            Some(format!("exec transform `{}` is named like another transform", e.name))
        } else if e.command.is_empty() {
            Some(format!("exec transform `{}` has an empty `command`", e.name))
        } else {
            None
        };
        if let Some(message) = problem {
            let here = ["transforms", "exec", &i.to_string(), "name"];
            problems.push(Diagnostic::new(path, Code::UnknownTransform, message).at_key(spans, &here));
            continue;
        }
        out.push(ExecTransform {
            name: e.name.clone(),
            command: e.command.clone(),
            labels: e.labels.clone().unwrap_or_else(|| labels.to_vec()),
            dir: base.to_path_buf(),
        });
    }
    out
}
