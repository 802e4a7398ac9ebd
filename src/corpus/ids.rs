//! Settling ids once every file is read: derived ids from content, `~N`
//! for repeats, duplicate ids reported, repeated inputs counted.

use std::borrow::Cow;
use std::collections::HashMap;

use rayon::prelude::*;

use super::load::Loaded;
use super::{Case, Payload};
use crate::errors::{Code, Diagnostic};

/// Derives missing ids, checks uniqueness and counts repeated inputs.
/// Derived ids hash the content (never the line number), and identical
/// cases are told apart by occurrence (`~2`, `~3`), so ids survive reordering.
pub(super) fn finish_cases(
    loaded: Loaded,
    problems: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> (Vec<Case>, usize) {
    let Loaded { mut cases, keys } = loaded;
    let repeated = repeated_inputs(&cases, warnings);
    for case in &cases {
        if matches!(&case.payload, Payload::Text(t) if t.trim().is_empty()) {
            warnings.push(
                Diagnostic::new(&case.origin.path, Code::EmptyInput, "the input is empty").at_line(case.origin.line),
            );
        }
    }
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    for (case, content_hash) in cases.iter_mut().zip(keys) {
        if let Some(hash) = content_hash {
            let base = format!("{}{}", case.id, &hash[..16]);
            let n = occurrences.entry(base.clone()).or_insert(0);
            *n += 1;
            case.id = if *n == 1 { base } else { format!("{base}~{n}") };
        }
    }
    duplicate_ids(&cases, problems);
    (cases, repeated)
}

/// Reports every case whose id an earlier case already has, naming the first.
pub(super) fn duplicate_ids(cases: &[Case], problems: &mut Vec<Diagnostic>) {
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    for (i, first) in crate::hashing::repeats(&ids) {
        let (case, first) = (&cases[i], &cases[first]);
        problems.push(
            Diagnostic::new(
                &case.origin.path,
                Code::DuplicateId,
                format!("duplicate case id `{}` (first defined at {})", case.id, first.origin),
            )
            .at_line(case.origin.line),
        );
    }
}

/// What a payload is compared by: its text, or for a conversation or a
/// structured input its JSON, with the kind first so that a text that reads
/// like JSON never equals an object.
pub(super) fn payload_key(payload: &Payload) -> (u8, Cow<'_, str>) {
    match payload {
        Payload::Text(t) => (0, Cow::Borrowed(t.as_str())),
        Payload::Conversation(_) => (1, Cow::Owned(serde_json::to_string(payload).unwrap_or_default())),
        Payload::Structured(_) => (2, Cow::Owned(serde_json::to_string(payload).unwrap_or_default())),
    }
}

/// Cases whose payload equals an earlier case's: compared exactly, not by a
/// digest, so no collision can miscount. The same input labelled benign in
/// one place and adversarial in another is a `conflicting-labels` warning.
pub(super) fn repeated_inputs(cases: &[Case], warnings: &mut Vec<Diagnostic>) -> usize {
    let keys: Vec<(u8, Cow<'_, str>)> = cases.par_iter().map(|c| payload_key(&c.payload)).collect();
    let repeats = crate::hashing::repeats(&keys);
    for &(i, first) in &repeats {
        let (case, first) = (&cases[i], &cases[first]);
        if case.label != first.label {
            warnings.push(
                Diagnostic::new(
                    &case.origin.path,
                    Code::ConflictingLabels,
                    format!(
                        "the same input is {} here and {} at {}",
                        case.label.as_str(),
                        first.label.as_str(),
                        first.origin
                    ),
                )
                .at_line(case.origin.line),
            );
        }
    }
    repeats.len()
}
