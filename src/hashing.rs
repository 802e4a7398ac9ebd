//! Content hashes. SHA-256 everywhere: ids, run fingerprints and evidence
//! must not change between Rust releases or platforms, so std's hasher is out.

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Incremental hasher for fingerprints over several inputs. Each part is
/// length-prefixed so that ("ab","c") and ("a","bc") differ.
#[derive(Default)]
pub struct Fingerprint(Sha256);

impl Fingerprint {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn part(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// A part fed in pieces: its length first, then `update` with exactly
    /// that many bytes; hashes the same as `part` with the whole.
    pub fn part_len(&mut self, len: u64) -> &mut Self {
        self.0.update(len.to_le_bytes());
        self
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

/// Fingerprint of every file with extension `ext` under `dir` (sorted;
/// paths relative to `dir`). A missing folder hashes as empty.
pub fn hash_dir(dir: &std::path::Path, ext: &str) -> String {
    let mut f = Fingerprint::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name().into_iter().flatten() {
        let path = entry.path();
        if entry.file_type().is_file() && path.extension().is_some_and(|e| e == ext) {
            let relative = path.strip_prefix(dir).unwrap_or(path);
            f.part(relative.to_string_lossy().as_bytes());
            f.part(&std::fs::read(path).unwrap_or_default());
        }
    }
    f.finish()
}
