//! Reports: one model ([`Verdict`]), rendered into every format.
//!
//! `verdict.json` is the model serialised; the terminal table (and the other
//! formats) render from it and compute nothing of their own, so a saved
//! verdict re-renders identically later.

pub mod atomic;
mod model;
pub mod results_file;
pub mod terminal;
pub mod text;

pub use model::*;
