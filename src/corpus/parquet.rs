//! Parquet corpora (how Hugging Face serves datasets): each row becomes the
//! same JSON object a JSONL line would be, nested columns included, so a
//! manifest maps Parquet, CSV and JSONL alike and problems are located at
//! `path:row`. Rows are read a row group at a time, never the whole file.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::Value;

use super::case_builder::build_case;
use super::load::{Built, FileContext, Interner};
use crate::errors::{Code, Diagnostic};
use crate::hashing::Fingerprint;

fn unreadable(path: &Path, row: Option<usize>, e: impl std::fmt::Display) -> Diagnostic {
    let d = Diagnostic::new(path, Code::InvalidParquet, format!("not readable as Parquet: {e}"));
    match row {
        Some(r) => d.at_line(r),
        None => d,
    }
}

/// Hashes the file's bytes into `fingerprint` (as every corpus file is).
pub(super) fn hash_file(file: &Path, fingerprint: &mut Fingerprint) -> std::io::Result<u64> {
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    fingerprint.part_len(len);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        fingerprint.update(&buf[..n]);
    }
    Ok(len)
}

/// Every row of `file` as a case (or a located problem), in file order.
/// Row groups are decoded in parallel, as many at a time as there are
/// threads: the record reader is sequential within a group, and decoding
/// rows into JSON is most of a load's time.
pub(super) fn parse_parquet(file: &Path, ctx: &FileContext) -> Result<Vec<Result<Built, Diagnostic>>, Diagnostic> {
    use rayon::prelude::*;
    let f = std::fs::File::open(file).map_err(|e| Diagnostic::new(&ctx.path, Code::UnreadableFile, e.to_string()))?;
    let reader = SerializedFileReader::new(f).map_err(|e| unreadable(&ctx.path, None, e))?;
    let metadata = reader.metadata();
    let total = metadata.file_metadata().num_rows().max(0) as usize;
    // The first row (1-based) of each row group, for `path:row`.
    let mut first_rows = Vec::with_capacity(metadata.num_row_groups());
    let mut next = 1usize;
    for group in metadata.row_groups() {
        first_rows.push(next);
        next += group.num_rows().max(0) as usize;
    }
    let read_group = |index: usize| -> Vec<Result<Built, Diagnostic>> {
        let first = first_rows[index];
        // Its own handle: clones of one `File` share a read position, so
        // groups decoded in parallel through one would read each other's bytes.
        let own = std::fs::File::open(file)
            .map_err(|e| e.to_string())
            .and_then(|f| SerializedFileReader::new(f).map_err(|e| e.to_string()));
        let own = match own {
            Ok(r) => r,
            Err(e) => return vec![Err(unreadable(&ctx.path, Some(first), e))],
        };
        let group = match own.get_row_group(index) {
            Ok(group) => group,
            Err(e) => return vec![Err(unreadable(&ctx.path, Some(first), e))],
        };
        let rows = match group.get_row_iter(None) {
            Ok(rows) => rows,
            Err(e) => return vec![Err(unreadable(&ctx.path, Some(first), e))],
        };
        let mut interner = Interner::default();
        let mut out = Vec::new();
        for (i, row) in rows.enumerate() {
            let at = first + i;
            match row {
                Ok(row) => out.push(match row.to_json_value() {
                    Value::Object(object) => build_case(object, at, ctx, &mut interner),
                    _ => Err(Diagnostic::new(&ctx.path, Code::InvalidCase, "the row is not a record").at_line(at)),
                }),
                Err(e) => {
                    out.push(Err(unreadable(&ctx.path, Some(at), e)));
                    break;
                }
            }
        }
        out
    };
    let mut out: Vec<Result<Built, Diagnostic>> = Vec::with_capacity(total);
    let groups: Vec<usize> = (0..metadata.num_row_groups()).collect();
    for batch in groups.chunks(rayon::current_num_threads().max(1)) {
        let decoded: Vec<Vec<Result<Built, Diagnostic>>> = batch.par_iter().map(|&g| read_group(g)).collect();
        out.extend(decoded.into_iter().flatten());
    }
    Ok(out)
}

/// The top-level column names, from the file's footer.
pub(super) fn columns(file: &Path) -> BTreeSet<String> {
    let Ok(f) = std::fs::File::open(file) else { return BTreeSet::new() };
    let Ok(reader) = SerializedFileReader::new(f) else { return BTreeSet::new() };
    reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|field| field.name().to_string())
        .collect()
}
