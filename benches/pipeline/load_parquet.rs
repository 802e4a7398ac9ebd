//! Loading n cases from Parquet next to the same cases as JSONL, both
//! through the same manifest (columns mapped, the label by JSON pointer).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::parquet_file::{write_parquet, ParquetRow};

const MANIFEST: &str = "name = \"twin\"\nid = \"id\"\ninput = \"prompt\"\ncategory = \"category\"\n\
                        expected = \"expected\"\nlabel = \"/meta/label\"\n";

/// The same rows as `cases.parquet` and as `cases.jsonl`, in two folders.
fn twins(n: usize) -> (PathBuf, PathBuf) {
    let dir = super::root().join("target/bench-data").join(format!("parquet-twins-{n}"));
    let (parquet_dir, jsonl_dir) = (dir.join("parquet"), dir.join("jsonl"));
    if parquet_dir.join("cases.parquet").exists() && jsonl_dir.join("cases.jsonl").exists() {
        return (parquet_dir, jsonl_dir);
    }
    let inputs = super::bundled_inputs();
    let rows: Vec<ParquetRow> = (0..n)
        .map(|i| {
            let (text, label, category) = &inputs[i % inputs.len()];
            let expected = if label == "benign" { "allow" } else { "block" };
            [format!("gen-{i}"), format!("{text} (ticket {i})"), category.clone(), expected.into(), label.clone()]
        })
        .collect();
    for d in [&parquet_dir, &jsonl_dir] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("corpus.toml"), MANIFEST).unwrap();
    }
    write_parquet(&parquet_dir.join("cases.parquet"), &rows, 100_000);
    let mut w = std::io::BufWriter::new(std::fs::File::create(jsonl_dir.join("cases.jsonl")).unwrap());
    for [id, prompt, category, expected, label] in &rows {
        let line = serde_json::json!({"id": id, "prompt": prompt, "category": category, "expected": expected,
                                      "meta": {"label": label}});
        writeln!(w, "{line}").unwrap();
    }
    w.flush().unwrap();
    (parquet_dir, jsonl_dir)
}

fn load(dir: &Path) -> (usize, f64, u64) {
    let bytes = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.metadata().unwrap().len()).sum();
    let start = Instant::now();
    let cases = gauntlet::corpus::load_corpora(&[dir.to_path_buf()], dir).unwrap().cases.len();
    (cases, start.elapsed().as_secs_f64(), bytes)
}

pub fn bench_load_parquet(n: usize) {
    let (parquet_dir, jsonl_dir) = twins(n);
    for (what, dir) in [("jsonl", &jsonl_dir), ("parquet", &parquet_dir)] {
        let (cases, secs, bytes) = load(dir);
        println!(
            "load_parquet: {what}: {cases} cases ({:.1} MB on disk) in {secs:.2} s = {:.0} cases/s",
            bytes as f64 / 1e6,
            cases as f64 / secs
        );
    }
}
