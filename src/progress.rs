//! How a long step tells the outside world how far it got. Stages report
//! into this trait and know nothing about terminals or CI logs; the
//! pipeline decides whether that becomes a bar, a plain line or nothing.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live progress of a long step (a replay, a corpus load, a log read).
pub trait Progress: Sync {
    /// `n` more units done (cases, or bytes for a read).
    fn advance(&self, n: u64);
    /// `n` of the cases already counted by `advance` ended in a target
    /// error: shown as "errors so far", so a dying target is visible at once.
    fn failed(&self, _n: u64) {}
    /// The step found out how much there is to do (a loader, once it has
    /// listed its files).
    fn set_total(&self, _n: u64) {}
}

impl Progress for () {
    fn advance(&self, _: u64) {}
}

/// Counts that a reporter thread can poll.
#[derive(Default)]
pub struct Counter {
    pub done: AtomicU64,
    pub failed: AtomicU64,
    pub total: AtomicU64,
}

impl Counter {
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

impl Progress for Counter {
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    fn failed(&self, n: u64) {
        self.failed.fetch_add(n, Ordering::Relaxed);
    }

    fn set_total(&self, n: u64) {
        self.total.store(n, Ordering::Relaxed);
    }
}

/// Maps numbered lines in parallel, in order, telling `progress` the bytes
/// of each block of lines (one atomic add per block, not per line: with a
/// million lines a shared counter per line would cost more than the parse).
pub fn map_lines_reporting<T: Send>(
    lines: &[(usize, &str)],
    progress: &dyn Progress,
    f: impl Fn(usize, &str) -> T + Sync,
) -> Vec<T> {
    map_lines_with(lines, progress, || (), |_, n, l| f(n, l))
}

/// As `map_lines_reporting`, with a scratch state made afresh for each
/// block of lines: a cache that saves touching shared state on every line.
pub fn map_lines_with<'a, S, T: Send>(
    lines: &[(usize, &'a str)],
    progress: &dyn Progress,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize, &'a str) -> T + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    const BLOCK: usize = 4096;
    lines
        .par_chunks(BLOCK)
        .flat_map_iter(|block| {
            let mut state = init();
            let out: Vec<T> = block.iter().map(|&(n, l)| f(&mut state, n, l)).collect();
            progress.advance(block.iter().map(|(_, l)| l.len() as u64 + 1).sum());
            out
        })
        .collect()
}
