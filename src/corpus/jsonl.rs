//! JSONL corpus files: read in blocks of whole lines, parsed in parallel.

use std::path::Path;

use rayon::prelude::*;
use serde_json::Value;

use super::case_builder::{build_case, Fields};
use super::load::{Built, FileContext, Interner, Loaded, KNOWN_KEYS};
use crate::errors::{Code, Diagnostic, DIAGNOSTIC_CAP};
use crate::hashing::Fingerprint;

pub(super) const JSONL_BLOCK: usize = 8 << 20;

pub(super) fn read_jsonl(
    file: &Path,
    ctx: &FileContext,
    block: usize,
    fingerprint: &mut Fingerprint,
    loaded: &mut Loaded,
    problems: &mut Vec<Diagnostic>,
) -> std::io::Result<()> {
    let f = std::fs::File::open(file)?;
    let expected_len = f.metadata()?.len();
    fingerprint.part_len(expected_len);
    let (blocks, read_blocks) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
    let (emptied, spare) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_line_blocks(f, block, fingerprint, blocks, spare));
        let mut first_line = 1;
        let mut parsed: Option<Vec<Vec<Result<Built, Diagnostic>>>> = None;
        for buf in read_blocks {
            let previous = parsed.take();
            // A UTF-8 byte order mark (editors on Windows write one) is not data.
            let data = match first_line == 1 && buf.starts_with(b"\xEF\xBB\xBF") {
                true => &buf[3..],
                false => &buf[..],
            };
            let ((rows, lines), ()) = rayon::join(
                || parse_jsonl_block(data, first_line, ctx),
                || previous.into_iter().flatten().for_each(|piece| loaded.add(piece, problems)),
            );
            if first_line == 1 && (buf.len() as u64) < expected_len {
                // Room for the whole file at the first block's line length.
                let estimate = (expected_len as f64 / buf.len().max(1) as f64 * lines as f64) as usize;
                loaded.cases.reserve(estimate);
                loaded.keys.reserve(estimate);
            }
            first_line += lines;
            ctx.progress.advance(buf.len() as u64);
            parsed = Some(rows);
            let _ = emptied.send(buf); // the reader may be done; then the buffer is just freed
            if problems.len() > DIAGNOSTIC_CAP * 4 {
                break; // dropping the receiver stops the reader
            }
        }
        parsed.into_iter().flatten().for_each(|piece| loaded.add(piece, problems));
        let total = reader.join().expect("reader thread does not panic")?;
        if total != expected_len && problems.len() <= DIAGNOSTIC_CAP * 4 {
            problems.push(Diagnostic::new(file, Code::UnreadableFile, "the file changed while it was read"));
        }
        Ok(())
    })
}

/// The reader thread of [`read_jsonl`]: sends blocks that end at a line end
/// (the last one holds whatever follows the last newline), each hashed into
/// `fingerprint` in file order. A line longer than a block just makes that
/// block longer. Returns the bytes read.
pub(super) fn read_line_blocks(
    mut f: std::fs::File,
    block: usize,
    fingerprint: &mut Fingerprint,
    blocks: std::sync::mpsc::SyncSender<Vec<u8>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<u64> {
    use std::io::Read;
    let mut total = 0u64;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut buf = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(block + block / 8));
        buf.clear();
        buf.append(&mut carry);
        let read = loop {
            let before = buf.len();
            let read = (&mut f).take(block as u64).read_to_end(&mut buf)?;
            total += read as u64;
            if read == 0 || memchr::memchr(b'\n', &buf[before..]).is_some() {
                break read;
            }
        };
        let eof = read == 0;
        let cut = if eof { buf.len() } else { buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
        carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        if !buf.is_empty() {
            fingerprint.update(&buf);
            if blocks.send(buf).is_err() {
                return Ok(total); // the parser stopped early (too many problems)
            }
        }
        if eof {
            return Ok(total);
        }
    }
}

/// Lines per parallel piece of a block: enough to amortise the split.
pub(super) const PIECE_BYTES: usize = 256 << 10;

/// Parses a block of whole lines in pieces on every core; returns the
/// results in line order and the number of lines (newlines) in the block.
pub(super) fn parse_jsonl_block(
    block: &[u8],
    first_line: usize,
    ctx: &FileContext,
) -> (Vec<Vec<Result<Built, Diagnostic>>>, usize) {
    let mut pieces = Vec::new();
    let mut at = 0;
    while at < block.len() {
        let end = (at + PIECE_BYTES).min(block.len());
        let end = block[end..].iter().position(|&b| b == b'\n').map_or(block.len(), |i| end + i + 1);
        pieces.push(&block[at..end]);
        at = end;
    }
    let counts: Vec<usize> = pieces.par_iter().map(|p| p.iter().filter(|&&b| b == b'\n').count()).collect();
    let mut firsts = Vec::with_capacity(pieces.len());
    let mut line = first_line;
    for c in &counts {
        firsts.push(line);
        line += c;
    }
    let rows = pieces.par_iter().zip(firsts).map(|(piece, first)| parse_jsonl_piece(piece, first, ctx)).collect();
    (rows, line - first_line)
}

pub(super) fn parse_jsonl_piece(piece: &[u8], first_line: usize, ctx: &FileContext) -> Vec<Result<Built, Diagnostic>> {
    let text = match std::str::from_utf8(piece) {
        Ok(t) => t,
        Err(e) => {
            let valid = &piece[..e.valid_up_to()];
            let line = first_line + valid.iter().filter(|&&b| b == b'\n').count();
            let column = valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
            return vec![
                Err(Diagnostic::new(&ctx.path, Code::InvalidUtf8, "file is not valid UTF-8").at(line, column)),
            ];
        }
    };
    let mut interner = Interner::default();
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (first_line + i, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(line, l)| parse_jsonl_line(l, line, ctx, &mut interner))
        .collect()
}

/// A line of a JSONL file without a manifest: the documented keys only, read
/// straight into fields (no intermediate map). Keep in step with KNOWN_KEYS.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KnownFields {
    id: Option<Value>,
    input: Option<Value>,
    messages: Option<Value>,
    label: Option<Value>,
    category: Option<Value>,
    source: Option<Value>,
    tags: Option<Value>,
    expected: Option<Value>,
    direction: Option<Value>,
    context: Option<Value>,
    #[serde(rename = "expected-first-block")]
    expected_first_block: Option<Value>,
    origin: Option<Value>,
    transform: Option<Value>,
}

impl KnownFields {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Value>> {
        Some(match name {
            "id" => &mut self.id,
            "input" => &mut self.input,
            "messages" => &mut self.messages,
            "label" => &mut self.label,
            "category" => &mut self.category,
            "source" => &mut self.source,
            "tags" => &mut self.tags,
            "expected" => &mut self.expected,
            "direction" => &mut self.direction,
            "context" => &mut self.context,
            "expected-first-block" => &mut self.expected_first_block,
            "origin" => &mut self.origin,
            "transform" => &mut self.transform,
            _ => return None,
        })
    }
}

impl Fields for KnownFields {
    fn get(&self, name: &str) -> Option<&Value> {
        match name {
            "id" => self.id.as_ref(),
            "input" => self.input.as_ref(),
            "messages" => self.messages.as_ref(),
            "label" => self.label.as_ref(),
            "category" => self.category.as_ref(),
            "source" => self.source.as_ref(),
            "tags" => self.tags.as_ref(),
            "expected" => self.expected.as_ref(),
            "direction" => self.direction.as_ref(),
            "context" => self.context.as_ref(),
            "expected-first-block" => self.expected_first_block.as_ref(),
            "origin" => self.origin.as_ref(),
            "transform" => self.transform.as_ref(),
            _ => None,
        }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        self.slot(name)?.take()
    }

    fn unknown_key(&self) -> Option<&str> {
        None // serde rejects unknown keys while parsing
    }
}

pub(super) fn parse_jsonl_line(
    text: &str,
    line: usize,
    ctx: &FileContext,
    interner: &mut Interner,
) -> Result<Built, Diagnostic> {
    let not_object = || Diagnostic::new(&ctx.path, Code::InvalidCase, "a case line must be a JSON object").at(line, 1);
    let json_error =
        |e: serde_json::Error| Diagnostic::new(&ctx.path, Code::InvalidJson, e.to_string()).at(line, e.column());
    if !ctx.strict_keys {
        let value: Value = serde_json::from_str(text).map_err(json_error)?;
        let Value::Object(object) = value else { return Err(not_object()) };
        return build_case(object, line, ctx, interner);
    }
    match serde_json::from_str::<KnownFields>(text) {
        Ok(fields) => build_case(fields, line, ctx, interner),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            if !text.trim_start().starts_with('{') {
                return Err(not_object());
            }
            let message = e.to_string();
            match message.strip_prefix("unknown field ") {
                Some(rest) => {
                    let key = rest.split(',').next().unwrap_or(rest);
                    Err(Diagnostic::new(
                        &ctx.path,
                        Code::UnknownField,
                        format!(
                            "unknown field {key} (expected one of {}; a corpus.toml can map other fields)",
                            KNOWN_KEYS.join(", ")
                        ),
                    )
                    .at(line, e.column()))
                }
                None => Err(Diagnostic::new(&ctx.path, Code::InvalidCase, message).at(line, e.column())),
            }
        }
        Err(e) => Err(json_error(e)),
    }
}
