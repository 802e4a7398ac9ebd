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

/// Every item equal to an earlier one, as (its index, the first one's
/// index), in index order. Hashes are computed in parallel and sorted, so
/// only items with equal hashes are compared: for a million ids this is
/// several times faster than one map filled on one thread. The hash only
/// groups candidates (equality decides), so a fast non-cryptographic one
/// (foldhash, already in the tree through indexmap) is safe here.
pub fn repeats<T: std::hash::Hash + Eq + Sync>(items: &[T]) -> Vec<(usize, usize)> {
    use rayon::prelude::*;
    use std::hash::BuildHasher;
    let hasher = foldhash::fast::FixedState::default();
    let mut keyed: Vec<(u64, usize)> = items.par_iter().enumerate().map(|(i, x)| (hasher.hash_one(x), i)).collect();
    keyed.par_sort_unstable();
    let mut found = Vec::new();
    for group in keyed.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        // Sorted by index within a group: the first equal item is the earliest.
        for (k, &(_, i)) in group.iter().enumerate() {
            if let Some(&(_, first)) = group[..k].iter().find(|(_, j)| items[*j] == items[i]) {
                found.push((i, first));
            }
        }
    }
    found.sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeats_name_each_later_copy_and_its_first() {
        let items = ["a", "b", "a", "c", "b", "a"];
        assert_eq!(super::repeats(&items), vec![(2, 0), (4, 1), (5, 0)]);
        assert!(super::repeats(&["x", "y"]).is_empty());
    }
}
