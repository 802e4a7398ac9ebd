//! `results.jsonl`: one [`CaseResult`] per line, in corpus order.

use crate::progress::map_lines_reporting;
use std::path::Path;

use crate::atomic_file::write_rendered;
use crate::corpus::{Direction, Payload};
use crate::errors::{Code, Diagnostic, Error};
use crate::replay::CaseResult;

/// Writes results, serialising chunks in parallel (order preserved).
pub fn write_results(path: &Path, results: &[CaseResult]) -> Result<(), Error> {
    write_rendered(path, b"", results, |chunk, buf| {
        for r in chunk {
            push_result_line(buf, r)?;
        }
        Ok(())
    })
}

/// One line of results.jsonl: the same bytes as `serde_json::to_writer` on
/// the derived `Serialize` (tested against it), written by hand because a
/// million lines through serde's byte-at-a-time string escaping took most of
/// the write stage. Rare nested values (an error, a structured input, a
/// repeat summary) still go through serde.
pub fn push_result_line(out: &mut Vec<u8>, r: &CaseResult) -> std::io::Result<()> {
    use crate::json_string::push_json_str;
    let mut int = itoa::Buffer::new();
    out.extend_from_slice(b"{\"id\":");
    push_json_str(out, &r.id);
    out.extend_from_slice(b",\"label\":\"");
    out.extend_from_slice(r.label.as_str().as_bytes());
    out.extend_from_slice(b"\",\"category\":");
    push_json_str(out, &r.category);
    out.extend_from_slice(b",\"source\":");
    push_json_str(out, &r.source);
    out.extend_from_slice(b",\"dataset\":");
    push_json_str(out, &r.dataset);
    if let Some(tenant) = &r.tenant {
        out.extend_from_slice(b",\"tenant\":");
        push_json_str(out, tenant);
    }
    if !r.tags.is_empty() {
        out.extend_from_slice(b",\"tags\":");
        push_str_array(out, &r.tags);
    }
    out.extend_from_slice(match r.direction {
        Direction::Ingress => b",\"direction\":\"ingress\"".as_slice(),
        Direction::Egress => b",\"direction\":\"egress\"".as_slice(),
    });
    if let Some(expected) = r.expected {
        out.extend_from_slice(b",\"expected\":\"");
        out.extend_from_slice(expected.as_str().as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b",\"input\":");
    match &r.input {
        Payload::Text(text) => push_json_str(out, text),
        other => serde_json::to_writer(&mut *out, other)?,
    }
    out.extend_from_slice(b",\"decision\":");
    match r.decision {
        Some(d) => {
            out.push(b'"');
            out.extend_from_slice(d.as_str().as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"score\":");
    match r.score {
        // serde_json's float formatting, so the bytes stay identical.
        Some(score) => serde_json::to_writer(&mut *out, &score)?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"reasons\":");
    push_str_array(out, &r.reasons);
    out.extend_from_slice(b",\"latency-us\":");
    out.extend_from_slice(int.format(r.latency_us).as_bytes());
    if let Some(us) = r.target_latency_us {
        out.extend_from_slice(b",\"target-latency-us\":");
        out.extend_from_slice(int.format(us).as_bytes());
    }
    if let Some(us) = r.queue_us {
        out.extend_from_slice(b",\"queue-us\":");
        out.extend_from_slice(int.format(us).as_bytes());
    }
    out.extend_from_slice(b",\"attempts\":");
    out.extend_from_slice(int.format(r.attempts).as_bytes());
    out.extend_from_slice(b",\"error\":");
    match &r.error {
        Some(error) => serde_json::to_writer(&mut *out, error)?,
        None => out.extend_from_slice(b"null"),
    }
    if let Some(repeats) = &r.repeats {
        out.extend_from_slice(b",\"repeats\":");
        serde_json::to_writer(&mut *out, repeats)?;
    }
    if let Some(turn) = r.blocked_at_turn {
        out.extend_from_slice(b",\"blocked-at-turn\":");
        out.extend_from_slice(int.format(turn).as_bytes());
    }
    if let Some(turn) = r.expected_first_block {
        out.extend_from_slice(b",\"expected-first-block\":");
        out.extend_from_slice(int.format(turn).as_bytes());
    }
    if let Some(transform) = &r.transform {
        out.extend_from_slice(b",\"transform\":");
        serde_json::to_writer(&mut *out, transform)?;
    }
    if let Some(origin) = &r.origin {
        out.extend_from_slice(b",\"origin\":");
        serde_json::to_writer(&mut *out, origin)?;
    }
    if let Some(seq) = r.seq {
        out.extend_from_slice(b",\"seq\":");
        out.extend_from_slice(int.format(seq).as_bytes());
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

fn push_str_array(out: &mut Vec<u8>, items: &[std::sync::Arc<str>]) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::json_string::push_json_str(out, item);
    }
    out.push(b']');
}

/// Reads a saved `results.jsonl`; every bad line is reported with `path:line`.
pub fn read_results(path: &Path, progress: &dyn crate::progress::Progress) -> Result<Vec<CaseResult>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Diagnostic::new(path, Code::UnreadableFile, e.to_string()))?;
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
    let parsed: Vec<Result<CaseResult, Diagnostic>> = map_lines_reporting(&lines, progress, |line, l| {
        serde_json::from_str(l)
            .map_err(|e| Diagnostic::new(path, Code::InvalidResult, e.to_string()).at(line, e.column()))
    });
    let mut results = Vec::with_capacity(parsed.len());
    let mut problems = Vec::new();
    // A case twice (two files joined by hand) would count twice in `diff`
    // and `merge`, or let the later line decide.
    let mut first_line: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (p, &(line, _)) in parsed.into_iter().zip(&lines) {
        match p {
            Ok(r) => {
                if let Some(first) = first_line.insert(r.id.clone(), line) {
                    let message =
                        format!("case `{}` is here a second time (first at line {first})", r.id.escape_debug());
                    problems.push(Diagnostic::new(path, Code::DuplicateCase, message).at_line(line));
                }
                results.push(r);
            }
            Err(d) => problems.push(d),
        }
    }
    if problems.is_empty() {
        Ok(results)
    } else {
        Err(Error::Input(problems))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::corpus::{Decision, Label, Message};
    use crate::replay::RepeatSummary;
    use crate::targets::{CaseError, ErrorKind};

    /// Results that between them set every optional field, every payload
    /// kind and the strings JSON escaping has to get right.
    fn varied_results() -> Vec<CaseResult> {
        let texts = ["plain", "quote \" backslash \\ slash /", "ctl \u{0}\u{1f}\t\n\r\u{7f}", "ünï €𝄞 \u{2028}", ""];
        let scores = [None, Some(0.0), Some(0.25), Some(1.0 / 3.0), Some(1e-7), Some(1.0), Some(f64::NAN)];
        let decisions = [Some(Decision::Allow), Some(Decision::Block), Some(Decision::RequireApproval), None];
        (0..140usize)
            .map(|i| {
                let text = texts[i % texts.len()];
                let mut r = CaseResult::sample(&format!("id-{i}-{text}"), Label::Benign, decisions[i % 4]);
                r.label = if i % 2 == 0 { Label::Benign } else { Label::Adversarial };
                r.category = Arc::from(texts[(i + 1) % texts.len()]);
                r.score = scores[i % scores.len()];
                r.latency_us = (i as u64).pow(5);
                r.reasons = (0..i % 3).map(|k| Arc::from(format!("r{k}{text}").as_str())).collect();
                if i % 3 == 0 {
                    r.tenant = Some(Arc::from("acme"));
                    r.tags = vec![Arc::from("t1"), Arc::from(text)];
                    r.direction = Direction::Egress;
                    r.expected = Some(Decision::Block);
                    r.target_latency_us = Some(i as u64);
                    r.queue_us = Some(i as u64 * 7);
                    r.attempts = 3;
                    r.repeats =
                        Some(Box::new(RepeatSummary { n: 3, allow: 1, block: 2, require_approval: 0, error: 0 }));
                    r.blocked_at_turn = Some(1);
                    r.expected_first_block = Some(0);
                    r.seq = Some(i as u64 * 1_000_000_007);
                    r.transform = Some(Arc::from("base64+roleplay"));
                    r.origin = Some(format!("{text}\"origin"));
                }
                if r.decision.is_none() {
                    r.error =
                        Some(Box::new(CaseError { kind: ErrorKind::Protocol, message: format!("bad line: {text}") }));
                }
                r.input = match i % 7 {
                    5 => Payload::Structured(
                        serde_json::json!({"agent": text, "n": [1, 2.5, null]}).as_object().unwrap().clone(),
                    ),
                    6 => Payload::Conversation(vec![Message { role: "user".into(), content: text.into() }]),
                    _ => Payload::Text(format!("{text} {i}")),
                };
                r
            })
            .collect()
    }

    /// A result built from arbitrary text, score and optional fields.
    fn arbitrary_result(
        texts: &[String],
        score: Option<f64>,
        decision: Option<u8>,
        latency: u64,
        attempts: u32,
    ) -> CaseResult {
        let text = |i: usize| texts[i % texts.len()].clone();
        let decision = decision.map(|d| [Decision::Allow, Decision::Block, Decision::RequireApproval][d as usize % 3]);
        let mut r = CaseResult::sample(&text(0), Label::Benign, decision);
        r.category = text(1).as_str().into();
        r.source = text(2).as_str().into();
        r.input = crate::corpus::Payload::Text(text(3));
        r.reasons = texts.iter().skip(4).map(|t| t.as_str().into()).collect();
        r.score = score;
        r.latency_us = latency;
        r.attempts = attempts;
        if decision.is_none() {
            r.error = Some(Box::new(CaseError { kind: ErrorKind::Protocol, message: text(5) }));
        }
        r
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// The hand-written JSON line equals serde_json's, on any text.
        #[test]
        fn result_lines_equal_serde_on_arbitrary_fields(
            texts in proptest::collection::vec(proptest::prelude::any::<String>(), 6..9),
            score in proptest::option::of(proptest::prelude::any::<f64>()),
            decision in proptest::option::of(0u8..3),
            latency in proptest::prelude::any::<u64>(),
            attempts in proptest::prelude::any::<u32>(),
        ) {
            let r = arbitrary_result(&texts, score, decision, latency, attempts);
            let mut hand = Vec::new();
            push_result_line(&mut hand, &r).unwrap();
            let mut serde = serde_json::to_vec(&r).unwrap();
            serde.push(b'\n');
            proptest::prop_assert_eq!(String::from_utf8_lossy(&hand), String::from_utf8_lossy(&serde));
        }
    }

    #[test]
    fn hand_written_result_lines_equal_serde_output() {
        for r in varied_results() {
            let mut hand = Vec::new();
            push_result_line(&mut hand, &r).unwrap();
            let mut serde = serde_json::to_vec(&r).unwrap();
            serde.push(b'\n');
            assert_eq!(String::from_utf8_lossy(&hand), String::from_utf8_lossy(&serde));
        }
    }

    #[test]
    fn written_results_read_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        // NaN does not survive JSON (it is written as null), so leave it out.
        let results: Vec<CaseResult> =
            varied_results().into_iter().filter(|r| !r.score.is_some_and(f64::is_nan)).collect();
        write_results(&path, &results).unwrap();
        assert_eq!(read_results(&path, &()).unwrap(), results);
    }
}
