//! `results.csv`: one row per case, the fields of results.jsonl. Quoting
//! follows the csv crate's default writer exactly (a field is quoted when it
//! holds a comma, a quote, CR or LF; quotes inside are doubled; rows end in
//! LF; tested against it) but is written by hand: a million rows through the
//! csv writer's state machine and extra buffer cost more than the JSON lines.
//! Cells that a spreadsheet would run as a formula (starting with `=`, `+`,
//! `-`, `@`, tab or carriage return) get a leading `'`, the usual defence
//! against CSV injection; everything else is verbatim.

use std::io::Write;
use std::path::Path;

use crate::atomic_file::write_rendered;
use crate::corpus::{Direction, Payload};
use crate::errors::Error;
use crate::replay::CaseResult;

const HEADER: &[u8] =
    b"id,label,category,source,direction,expected,decision,score,reasons,latency_us,error_kind,error_message,attempts,input\n";

/// Bytes that force a field into quotes. memchr's vector search: a byte
/// loop here was the largest cost of writing the file.
fn needs_quotes(bytes: &[u8]) -> bool {
    memchr::memchr3(b',', b'"', b'\n', bytes).is_some() || memchr::memchr(b'\r', bytes).is_some()
}

/// Whether a field may hold a control, bidi or zero-width character: any
/// byte below 0x20 but newline and tab, DEL, or the lead byte of U+0080 to
/// U+00BF, of U+2000 to U+2FFF, or of U+F000 to U+FFFF. A branch-free fold
/// the compiler vectorises; almost every field has none of them.
fn may_hide_characters(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |seen, &b| {
        seen | ((b < 0x20) & (b != b'\n') & (b != b'\t')) | (b == 0x7f) | (b == 0xc2) | (b == 0xe2) | (b == 0xef)
    })
}

/// A field as text that may reach a spreadsheet: control, bidi and
/// zero-width characters shown as `⟨U+202E⟩` (as every other format shows
/// them), then formula starts defused.
fn push_text(out: &mut Vec<u8>, s: &str) {
    if may_hide_characters(s.as_bytes()) {
        return push_visible_text(out, &super::html::visible(s));
    }
    push_visible_text(out, s)
}

fn push_visible_text(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let inert = matches!(bytes.first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'));
    if !needs_quotes(bytes) {
        if inert {
            out.push(b'\'');
        }
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    if inert {
        out.push(b'\'');
    }
    let mut rest = bytes;
    while let Some(at) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=at]);
        out.push(b'"');
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// One row, without an intermediate string for any field but a
/// non-text input.
pub fn push_row(out: &mut Vec<u8>, r: &CaseResult) -> std::io::Result<()> {
    let mut int = itoa::Buffer::new();
    push_text(out, &r.id);
    out.push(b',');
    out.extend_from_slice(r.label.as_str().as_bytes());
    out.push(b',');
    push_text(out, &r.category);
    out.push(b',');
    push_text(out, &r.source);
    out.extend_from_slice(match r.direction {
        Direction::Ingress => b",ingress,".as_slice(),
        Direction::Egress => b",egress,".as_slice(),
    });
    out.extend_from_slice(r.expected.map(|d| d.as_str()).unwrap_or("").as_bytes());
    out.push(b',');
    out.extend_from_slice(r.decision.map(|d| d.as_str()).unwrap_or("").as_bytes());
    out.push(b',');
    if let Some(score) = r.score {
        write!(out, "{score}")?;
    }
    out.push(b',');
    match r.reasons.as_slice() {
        [] => {}
        [one] => push_text(out, one),
        many => push_text(out, &many.iter().map(|s| &**s).collect::<Vec<_>>().join(";")),
    }
    out.push(b',');
    out.extend_from_slice(int.format(r.latency_us).as_bytes());
    out.push(b',');
    if let Some(error) = &r.error {
        out.extend_from_slice(error.kind.as_str().as_bytes());
        out.push(b',');
        push_text(out, &error.message);
    } else {
        out.push(b',');
    }
    out.push(b',');
    out.extend_from_slice(int.format(r.attempts).as_bytes());
    out.push(b',');
    match &r.input {
        Payload::Text(text) => push_text(out, text),
        other => push_text(out, &other.display_text()),
    }
    out.push(b'\n');
    Ok(())
}

/// Rows are formatted in parallel chunks, then written in order.
pub fn write_csv(path: &Path, results: &[CaseResult]) -> Result<(), Error> {
    write_rendered(path, HEADER, results, |chunk, buf| {
        for r in chunk {
            push_row(buf, r)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use super::*;
    use crate::corpus::{Decision, Label};
    use crate::targets::{CaseError, ErrorKind};

    /// The writer this module replaced, kept as the reference: the csv
    /// crate's default quoting, fed the same cells.
    fn reference_row(out: &mut csv::Writer<Vec<u8>>, r: &CaseResult) {
        fn inert(s: &str) -> Cow<'_, str> {
            let s = crate::report::html::visible(s);
            if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                Cow::Owned(format!("'{s}"))
            } else {
                Cow::Owned(s)
            }
        }
        let direction = match r.direction {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        };
        let error_kind = r
            .error
            .as_ref()
            .and_then(|e| serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(String::from)))
            .unwrap_or_default();
        let reasons = r.reasons.iter().map(|s| &**s).collect::<Vec<_>>().join(";");
        let input = r.input.display_text();
        out.write_field(inert(&r.id).as_bytes()).unwrap();
        out.write_field(r.label.as_str()).unwrap();
        out.write_field(inert(&r.category).as_bytes()).unwrap();
        out.write_field(inert(&r.source).as_bytes()).unwrap();
        out.write_field(direction).unwrap();
        out.write_field(r.expected.map(|d| d.as_str()).unwrap_or("")).unwrap();
        out.write_field(r.decision.map(|d| d.as_str()).unwrap_or("")).unwrap();
        out.write_field(r.score.map(|s| s.to_string()).unwrap_or_default()).unwrap();
        out.write_field(inert(&reasons).as_bytes()).unwrap();
        out.write_field(r.latency_us.to_string()).unwrap();
        out.write_field(&error_kind).unwrap();
        out.write_field(inert(r.error.as_ref().map(|e| e.message.as_str()).unwrap_or("")).as_bytes()).unwrap();
        out.write_field(r.attempts.to_string()).unwrap();
        out.write_field(inert(&input).as_bytes()).unwrap();
        out.write_record(None::<&[u8]>).unwrap();
    }

    #[test]
    fn hand_written_rows_equal_the_csv_crate() {
        let texts = [
            "plain",
            "",
            "a,b",
            "say \"hi\"",
            "\"",
            "line\nbreak",
            "cr\rhere",
            "=1+1",
            "+x",
            "-x,y",
            "@sum(\"a\")",
            "\tlead",
            "\r\nboth",
            "'quoted already",
            "ünï €𝄞",
            "\u{202e}evil",
            "\x1b[31mred",
            "zero\u{200b}width",
            "\u{feff}bom",
            "soft\u{ad}hyphen",
            "\u{85}next line",
        ];
        let kinds = ErrorKind::ALL;
        let mut reference = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        let mut hand = Vec::new();
        for (i, text) in texts.iter().enumerate().flat_map(|(i, t)| [(i, t), (i + 7, t)]) {
            let decision = [Some(Decision::Allow), Some(Decision::Block), Some(Decision::RequireApproval), None][i % 4];
            let mut r = CaseResult::sample(text, Label::Adversarial, decision);
            r.category = Arc::from(texts[(i + 3) % texts.len()]);
            r.source = Arc::from(texts[(i + 5) % texts.len()]);
            r.direction = if i % 2 == 0 { Direction::Ingress } else { Direction::Egress };
            r.expected = (i % 3 == 0).then_some(Decision::Block);
            r.score = [None, Some(0.0), Some(0.25), Some(1.0 / 3.0), Some(1e-7), Some(1.0)][i % 6];
            r.reasons = texts.iter().take(i % 4).map(|t| Arc::from(*t)).collect();
            r.latency_us = (i as u64).pow(7);
            r.attempts = i as u32;
            if decision.is_none() {
                r.error = Some(Box::new(CaseError {
                    kind: kinds[i % kinds.len()],
                    message: texts[(i + 1) % texts.len()].into(),
                }));
            }
            r.input = match i % 5 {
                4 => Payload::Structured(serde_json::json!({"q": text}).as_object().unwrap().clone()),
                _ => Payload::Text(format!("{text} {i}")),
            };
            reference_row(&mut reference, &r);
            push_row(&mut hand, &r).unwrap();
        }
        let reference = reference.into_inner().unwrap();
        assert_eq!(String::from_utf8_lossy(&hand), String::from_utf8_lossy(&reference));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// The hand-written row equals the csv crate's, on any text.
        #[test]
        fn rows_equal_the_csv_crate_on_arbitrary_fields(
            texts in proptest::collection::vec(proptest::prelude::any::<String>(), 6..9),
            score in proptest::option::of(-1e9f64..1e9),
            decision in proptest::option::of(0u8..3),
            latency in proptest::prelude::any::<u64>(),
        ) {
            let text = |i: usize| texts[i % texts.len()].clone();
            let decision = decision.map(|d| [Decision::Allow, Decision::Block, Decision::RequireApproval][d as usize % 3]);
            let mut r = CaseResult::sample(&text(0), Label::Adversarial, decision);
            r.category = Arc::from(text(1).as_str());
            r.source = Arc::from(text(2).as_str());
            r.input = Payload::Text(text(3));
            r.reasons = texts.iter().skip(4).map(|t| Arc::from(t.as_str())).collect();
            r.score = score;
            r.latency_us = latency;
            if decision.is_none() {
                r.error = Some(Box::new(CaseError { kind: ErrorKind::Crash, message: text(5) }));
            }
            let mut reference = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
            reference_row(&mut reference, &r);
            let mut hand = Vec::new();
            push_row(&mut hand, &r).unwrap();
            let reference = reference.into_inner().unwrap();
            proptest::prop_assert_eq!(String::from_utf8_lossy(&hand), String::from_utf8_lossy(&reference));
        }
    }

    /// Regression: results.csv wrote raw ESC and U+202E while every other
    /// format showed them as ⟨U+…⟩.
    #[test]
    fn control_and_bidi_characters_are_shown_not_written() {
        let mut r = CaseResult::sample("id", Label::Adversarial, None);
        r.input = Payload::Text("=evil\u{202e}txt.exe\x1b[2J".into());
        let mut out = Vec::new();
        push_row(&mut out, &r).unwrap();
        let row = String::from_utf8(out).unwrap();
        assert!(row.contains("'=evil⟨U+202E⟩txt.exe⟨U+001B⟩[2J"), "{row}");
        assert!(!row.contains('\u{202e}') && !row.contains('\x1b'));
    }

    #[test]
    fn header_is_what_the_csv_crate_writes() {
        let names = std::str::from_utf8(HEADER).unwrap().trim_end().split(',').collect::<Vec<_>>();
        let mut reference = csv::Writer::from_writer(Vec::new());
        reference.write_record(&names).unwrap();
        assert_eq!(reference.into_inner().unwrap(), HEADER);
        assert_eq!(names.len(), 14);
    }

    #[test]
    fn error_kind_names_match_their_serialised_form() {
        for kind in ErrorKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
