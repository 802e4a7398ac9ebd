//! Benchmarks that print figures (no assertions): `cargo bench`, or
//! `cargo bench -- NAME` for one of them. Corpora are generated in
//! target/bench-data from the bundled cases with per-case variations, so
//! texts are realistic and no two are identical.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gauntlet::pipeline::{run, RunOptions};

#[path = "pipeline/attack.rs"]
mod attack;
#[path = "pipeline/load_parquet.rs"]
mod load_parquet;
#[path = "pipeline/open_loop.rs"]
mod open_loop;
#[path = "pipeline/parquet_file.rs"]
mod parquet_file;
#[path = "pipeline/rate.rs"]
mod rate;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Peak resident memory of this process so far, in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds used so far by this process and by its reaped children
/// (Linux; /proc counts in ticks of 1/100 s).
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses: utime is the 12th.
    let fields: Vec<f64> =
        stat[stat.rfind(')')? + 2..].split(' ').skip(11).take(4).map_while(|f| f.parse().ok()).collect();
    let [utime, stime, cutime, cstime] = fields[..] else { return None };
    Some(((utime + stime) / 100.0, (cutime + cstime) / 100.0))
}

fn bundled_inputs() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for file in ["benign.jsonl", "adversarial.jsonl"] {
        let text = std::fs::read_to_string(root().join("corpora/bundled").join(file)).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push((
                v["input"].as_str().unwrap().to_string(),
                v["label"].as_str().unwrap().to_string(),
                v["category"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

const FILLERS: &[&str] = &[
    "",
    "Thanks in advance.",
    "Please keep it short.",
    "This is for a school project.",
    "I need the answer by tomorrow morning.",
    "Answer in a friendly tone.",
    "My manager asked me to check this.",
    "Use simple words.",
];

/// Writes an n-case corpus project and returns its gauntlet.toml.
pub fn generate_project(n: usize) -> PathBuf {
    let dir = root().join("target/bench-data").join(format!("cases-{n}"));
    let config = dir.join("gauntlet.toml");
    if config.exists() {
        return config;
    }
    std::fs::create_dir_all(dir.join("corpora")).unwrap();
    std::fs::create_dir_all(dir.join("gates")).unwrap();
    std::fs::copy(root().join("gates/runbook.toml"), dir.join("gates/runbook.toml")).unwrap();
    let inputs = bundled_inputs();
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("corpora/cases.jsonl")).unwrap());
    for i in 0..n {
        let (text, label, category) = &inputs[i % inputs.len()];
        let filler = FILLERS[(i / inputs.len()) % FILLERS.len()];
        let input = format!("{text} {filler} (ticket {i})");
        let line = serde_json::json!({"id": format!("gen-{i}"), "input": input, "label": label, "category": category});
        writeln!(w, "{line}").unwrap();
    }
    w.flush().unwrap();
    std::fs::write(&config, "[target]\nkind = \"builtin\"\n").unwrap();
    config
}

fn bench_end_to_end(n: usize) {
    let config = generate_project(n);
    let out_dir = config.parent().unwrap().join("reports");
    let rss_before = peak_rss_mib().unwrap_or(0.0);
    let start = Instant::now();
    let quiet = !progress_on();
    let output =
        run(&RunOptions { out_dir: Some(out_dir), quiet, ..RunOptions::new(config) }).expect("bench run succeeds");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "end-to-end builtin (progress {}): {n} cases in {secs:.2} s = {:.0} cases/s; peak RSS {:.0} MiB (before run {:.0} MiB); verdict {}",
        if quiet { "off" } else { "on" },
        n as f64 / secs,
        peak_rss_mib().unwrap_or(0.0),
        rss_before,
        output.verdict.verdict.as_str()
    );
    let dashboard = output.reports_dir.join("dashboard.html");
    let size = std::fs::metadata(&dashboard).map(|m| m.len()).unwrap_or(0);
    match which("chromium") {
        Some(browser) => {
            let profile = output.reports_dir.join("bench-chromium-profile");
            let start = Instant::now();
            let status = std::process::Command::new(browser)
                .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
                .args(["--disable-background-networking", "--disable-component-update", "--disable-sync", "--dump-dom"])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(format!("file://{}", dashboard.display()))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            println!(
                "dashboard for {n} cases: {:.1} KiB; chromium load+render+DOM dump {:.2} s (process start included; {status})",
                size as f64 / 1024.0,
                start.elapsed().as_secs_f64()
            );
        }
        None => println!(
            "dashboard for {n} cases: {:.1} KiB; chromium not installed, render time not measured",
            size as f64 / 1024.0
        ),
    }
}

/// `GAUNTLET_BENCH_PROGRESS=1`: measure with progress reporting on (off a
/// terminal: the counter and the line thread), to compare with it off.
fn progress_on() -> bool {
    std::env::var("GAUNTLET_BENCH_PROGRESS").is_ok_and(|v| v == "1")
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(tool)).find(|p| p.is_file())
}

fn load_cases(config: &Path) -> Vec<gauntlet::corpus::Case> {
    let dir = config.parent().unwrap();
    gauntlet::corpus::load_corpora(&[dir.join("corpora")], dir).expect("bench corpus loads").cases
}

/// exec throughput against a trivial always-allow target, compared with the
/// same target fed the same requests from a file.
fn bench_exec(n: usize) {
    use gauntlet::targets::exec::{ExecConfig, ExecTarget};
    use gauntlet::targets::Target;
    let config = generate_project(n);
    let cases = load_cases(&config);
    let requests = config.parent().unwrap().join("requests.jsonl");
    let mut buf = Vec::new();
    for c in &cases {
        gauntlet::targets::protocol::Request::write_line(c, &mut buf);
    }
    std::fs::write(&requests, &buf).unwrap();
    let bin = env!("CARGO_BIN_EXE_gauntlet");
    // Any other target, e.g. GAUNTLET_BENCH_EXEC_TARGET="python3 my_gate.py".
    let command: Vec<String> = match std::env::var("GAUNTLET_BENCH_EXEC_TARGET") {
        Ok(v) => v.split_whitespace().map(String::from).collect(),
        Err(_) => [bin, "target", "serve", "--stdio", "--always", "allow"].map(String::from).to_vec(),
    };
    println!("exec target: {}", command.join(" "));
    let piped = || {
        let start = Instant::now();
        let status = std::process::Command::new(&command[0])
            .args(&command[1..])
            .stdin(std::fs::File::open(&requests).unwrap())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        start.elapsed().as_secs_f64()
    };
    let configs: Vec<(usize, usize)> = match std::env::var("GAUNTLET_BENCH_EXEC") {
        // e.g. "1x1024,2x64": workers x window
        Ok(v) => v
            .split(',')
            .map(|p| {
                let (w, n) = p.split_once('x').expect("WORKERSxWINDOW");
                (w.parse().unwrap(), n.parse().unwrap())
            })
            .collect(),
        Err(_) => vec![(1, 64), (1, 1024), (2, 64), (2, 1024)],
    };
    // This machine's speed drifts by tens of percent within minutes, so
    // each exec run is paired with a piped run just before it, and the
    // ratio is the median of GAUNTLET_BENCH_PAIRS pairs (default 3).
    let pair_count: usize = std::env::var("GAUNTLET_BENCH_PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    for (workers, window) in configs {
        let target = ExecTarget::new(ExecConfig {
            command: command.clone(),
            workers,
            window,
            timeout: std::time::Duration::from_secs(10),
            max_restarts: 0,
            hello: false,
            dir: root(),
            startup: gauntlet::targets::exec::DEFAULT_STARTUP,
            hang: gauntlet::targets::exec::DEFAULT_STARTUP,
        });
        // (piped wall, exec wall, piped target CPU, exec harness CPU, exec target CPU)
        let mut pairs: Vec<(f64, f64, f64, f64, f64)> = (0..pair_count)
            .map(|_| {
                let before = cpu_seconds().unwrap_or_default();
                let base = piped();
                let middle = cpu_seconds().unwrap_or_default();
                let start = Instant::now();
                let replayed = target.replay(&cases, &()).unwrap();
                let secs = start.elapsed().as_secs_f64();
                let after = cpu_seconds().unwrap_or_default();
                assert!(replayed.outcomes.iter().all(|o| o.decision.is_ok()));
                (base, secs, middle.1 - before.1, after.0 - middle.0, after.1 - middle.1)
            })
            .collect();
        pairs.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
        let (base, secs, piped_cpu, harness_cpu, target_cpu) = pairs[pairs.len() / 2];
        let ratios = pairs.iter().map(|p| format!("{:.2}x", p.1 / p.0)).collect::<Vec<_>>().join(", ");
        println!(
            "exec replay: workers {workers}, window {window}: {n} cases in {secs:.2} s = {:.0} cases/s; piped just before: {base:.2} s; median ratio {:.2}x (of {ratios})",
            n as f64 / secs,
            secs / base,
        );
        println!(
            "  CPU in the median pair: harness {harness_cpu:.2} s, target {target_cpu:.2} s (the target alone, piped: {piped_cpu:.2} s)"
        );
    }
}

/// http requests per second on loopback with keep-alive.
fn bench_http(n: usize) {
    use gauntlet::targets::http::{HttpConfig, HttpTarget};
    use gauntlet::targets::Target;
    use std::io::BufRead;
    let config = generate_project(n);
    let cases = load_cases(&config);
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["target", "serve", "--http", "127.0.0.1:0", "--always", "allow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let url = format!("{}/v1/gate", line.trim().strip_prefix("listening on ").unwrap());
    for concurrency in [8, 16] {
        let target = HttpTarget::new(HttpConfig {
            url: url.clone(),
            body: None,
            headers: vec![],
            answer: Default::default(),
            preset: None,
            concurrency,
            rate_limit: None,
            timeout: std::time::Duration::from_secs(10),
            retries: 0,
            ca_certs: None,
            client_cert: None,
        });
        let start = Instant::now();
        let replayed = target.replay(&cases, &()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        let errors = replayed.outcomes.iter().filter(|o| o.decision.is_err()).count();
        println!(
            "http replay: concurrency {concurrency}: {n} requests in {secs:.2} s = {:.0} requests/s ({errors} errors)",
            n as f64 / secs
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// `gauntlet merge` of 8 shards of an n-case run.
fn bench_merge(n: usize) {
    use gauntlet::partition::Partition;
    let config = generate_project(n);
    let base = config.parent().unwrap().join("shards");
    let mut dirs = Vec::new();
    for m in 1..=8 {
        let dir = base.join(format!("shard-{m}"));
        if !dir.join("verdict.json").exists() {
            run(&RunOptions {
                out_dir: Some(dir.clone()),
                partition: Some(Partition { index: m, count: 8 }),
                ..RunOptions::new(config.clone())
            })
            .expect("shard runs");
        }
        dirs.push(dir);
    }
    let start = Instant::now();
    let merged = gauntlet::pipeline::merge(
        &dirs,
        &config,
        Some(&base.join("merged")),
        None,
        &Default::default(),
        !progress_on(),
    )
    .expect("merge");
    println!(
        "merge: 8 shards of {n} cases in {:.2} s (verdict {}, {} cases)",
        start.elapsed().as_secs_f64(),
        merged.verdict.verdict.as_str(),
        merged.verdict.corpora.cases
    );
}

/// Judging alone over a million real results: the metrics with every
/// breakdown, the runbook gates and the failing-case samples.
fn bench_judge(n: usize) {
    use gauntlet::metrics::{compute_all, CostWeights, CountingPolicy};
    let config = generate_project(n);
    let reports = config.parent().unwrap().join("bench-judge-reports");
    if !reports.join("results.jsonl").exists() {
        run(&RunOptions { out_dir: Some(reports.clone()), quiet: true, ..RunOptions::new(config.clone()) })
            .expect("bench run succeeds");
    }
    let results = gauntlet::report::results_file::read_results(&reports.join("results.jsonl"), &()).unwrap();
    let mut problems = Vec::new();
    let gates = gauntlet::config::load_gates(&root().join("gates"), &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let policy = CountingPolicy::default();
    let time = |what: &str, f: &dyn Fn() -> usize| {
        let start = Instant::now();
        let mut size = 0;
        for _ in 0..3 {
            size += f();
        }
        println!("judge {what}: {} cases, {:.0} ms", results.len(), start.elapsed().as_secs_f64() * 1000.0 / 3.0);
        size
    };
    time("metrics", &|| compute_all(&results, &policy).by_category.len());
    time("gates", &|| {
        gauntlet::evaluate::evaluate_gates(
            &gates,
            &results,
            &policy,
            &CostWeights::default(),
            gauntlet::evaluate::Lane::Full,
            None,
        )
        .len()
    });
    let by_category = gauntlet::metrics::compute_all(&results, &policy).by_category;
    time("failing cases", &|| {
        gauntlet::report::FailingCases::collect(&results, &policy, &by_category).false_positives.total as usize
    });
    let out = reports.join("bench-write");
    time("write results.jsonl", &|| {
        gauntlet::report::results_file::write_results(&out.join("results.jsonl"), &results).unwrap();
        0
    });
    time("write results.csv", &|| {
        gauntlet::report::csv_out::write_csv(&out.join("results.csv"), &results).unwrap();
        0
    });
}

/// What one conformance trial costs once the verdict is cached (nextest
/// starts a process per trial): the cache key over every input, then reading
/// the cached verdict.
fn bench_conformance() {
    use gauntlet::evaluate::Lane;
    let config = root().join("gauntlet.toml");
    let cache = root().join("target/bench-data/conformance-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let start = Instant::now();
    gauntlet::conformance::cached_verdict(&config, Lane::Preflight, &cache).unwrap();
    let cold = start.elapsed().as_secs_f64();
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        gauntlet::conformance::cached_verdict(&config, Lane::Preflight, &cache).unwrap();
    }
    println!(
        "conformance: first trial (replays) {:.0} ms; each later trial {:.1} ms (bundled project)",
        cold * 1e3,
        start.elapsed().as_secs_f64() * 1e3 / rounds as f64
    );
}

/// `gauntlet check` on the bundled project: the whole lint plus the
/// built-in target's probe, median of 20, and on the n-case project.
fn bench_check(n: usize) {
    let time = |config: PathBuf| {
        let opts = gauntlet::pipeline::CheckOptions { config, offline: false, today: None, quiet: true };
        let mut times: Vec<f64> = (0..20)
            .map(|_| {
                let start = Instant::now();
                gauntlet::pipeline::check(&opts).expect("the project is clean");
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let bundled = time(root().join("gauntlet.toml"));
    let large = {
        let config = generate_project(n);
        let opts = gauntlet::pipeline::CheckOptions { config, offline: false, today: None, quiet: true };
        let start = Instant::now();
        let _ = gauntlet::pipeline::check(&opts);
        start.elapsed().as_secs_f64() * 1e3
    };
    println!("check: bundled project median {bundled:.1} ms (20 runs); {n}-case project {large:.0} ms");
}

/// Robustness transforms: variants generated per second on one and two
/// threads, then a run of n originals x 10 transforms with the built-in
/// target against a plain run of the same variants materialised by
/// `corpus expand` (the difference is the transform stage's own cost).
/// Both runs go through the CLI binary, so each peak RSS is that run's own.
fn bench_transforms(n: usize) {
    const CHAINS: &str = "[\"base64\", \"hex\", \"rot13\", \"leetspeak\", \"homoglyphs\", \"zero-width\", \"full-width\", \"markdown-fence\", \"roleplay\", \"split-turns\"]";
    let source = generate_project(n);
    let dir = root().join("target/bench-data").join(format!("transforms-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("on/corpora")).unwrap();
    std::fs::create_dir_all(dir.join("on/gates")).unwrap();
    std::fs::copy(source.parent().unwrap().join("corpora/cases.jsonl"), dir.join("on/corpora/cases.jsonl")).unwrap();
    std::fs::copy(root().join("gates/runbook.toml"), dir.join("on/gates/runbook.toml")).unwrap();
    let config = dir.join("on/gauntlet.toml");
    std::fs::write(
        &config,
        format!(
            "[target]\nkind = \"builtin\"\n\n[transforms]\napply = {CHAINS}\nlabels = [\"adversarial\", \"benign\"]\n"
        ),
    )
    .unwrap();
    let loaded = gauntlet::config::Config::load(&config).unwrap();
    let plan = loaded.transforms.clone().unwrap().plan;
    let cases = gauntlet::corpus::load_corpora(&loaded.corpora, &loaded.base).unwrap().cases;
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let start = Instant::now();
        let made = pool.install(|| gauntlet::transform::variants(&cases, &plan).unwrap().len());
        let secs = start.elapsed().as_secs_f64();
        println!(
            "transforms: {made} variants of {n} cases in {:.0} ms on {threads} thread(s) = {:.0} variants/s",
            secs * 1e3,
            made as f64 / secs
        );
    }
    drop(cases);
    let (with_transforms, on_peak) = cli_run_with_peak(&dir.join("on"));
    let cases_run = std::fs::read_to_string(dir.join("on/reports/results.jsonl")).unwrap().lines().count();
    std::fs::create_dir_all(dir.join("plain/corpora")).unwrap();
    std::fs::create_dir_all(dir.join("plain/gates")).unwrap();
    std::fs::copy(dir.join("on/corpora/cases.jsonl"), dir.join("plain/corpora/cases.jsonl")).unwrap();
    std::fs::copy(root().join("gates/runbook.toml"), dir.join("plain/gates/runbook.toml")).unwrap();
    gauntlet::pipeline::expand(&config, gauntlet::evaluate::Lane::Full, &dir.join("plain/corpora/variants.jsonl"))
        .unwrap();
    std::fs::write(dir.join("plain/gauntlet.toml"), "[target]\nkind = \"builtin\"\n").unwrap();
    let (materialised, plain_peak) = cli_run_with_peak(&dir.join("plain"));
    println!(
        "transforms end to end: {n} originals x 10 transforms = {cases_run} cases: {with_transforms:.2} s generated in the run (peak RSS {on_peak:.0} MiB), {materialised:.2} s replaying the materialised variants (peak RSS {plain_peak:.0} MiB)"
    );
}

/// `gauntlet run --quiet` in `dir` as a child process: wall seconds and its
/// peak RSS (VmHWM, polled every 20 ms until it exits; Linux only, else 0).
fn cli_run_with_peak(dir: &Path) -> (f64, f64) {
    let start = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["run", "--quiet"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("gauntlet runs");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    while child.try_wait().expect("wait").is_none() {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status.lines().find(|l| l.starts_with("VmHWM:"));
            if let Some(kib) = hwm.and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()) {
                peak_kib = peak_kib.max(kib);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (start.elapsed().as_secs_f64(), peak_kib as f64 / 1024.0)
}

/// The calibration sweep (ROC, DeLong AUC, target FPRs, categories) on the
/// results of the n-case end-to-end run.
fn bench_calibrate(n: usize) {
    let config = generate_project(n);
    let results_path = config.parent().unwrap().join("reports/results.jsonl");
    if !results_path.exists() {
        bench_end_to_end(n);
    }
    let mut results = gauntlet::report::results_file::read_results(&results_path, &()).unwrap();
    // Spread the built-in's few distinct scores so every case has its own:
    // the worst case for a sweep over every distinct score.
    let len = results.len() as f64;
    for (i, r) in results.iter_mut().enumerate() {
        r.score = r.score.map(|s| s * 0.9 + 0.1 * i as f64 / len);
    }
    let start = Instant::now();
    let c = gauntlet::calibrate::calibrate(
        &results,
        &Default::default(),
        Some(0.5),
        &[0.01, 0.05, 0.10],
        gauntlet::calibrate::FprBound::Upper,
        "bench".into(),
        String::new(),
    );
    let sweep = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let b = gauntlet::calibrate::compare(&results, &results, &Default::default(), 0.01, "bench".into());
    println!(
        "calibrate: sweep of {} cases ({} ROC points, AUC {:?}) in {sweep:.2} s; baseline comparison in {:.2} s ({} comparisons)",
        results.len(),
        c.roc.as_ref().map(|r| r.points.len()).unwrap_or(0),
        c.roc.as_ref().and_then(|r| r.auc),
        start.elapsed().as_secs_f64(),
        b.comparisons.len()
    );
}

/// Ingesting a 10,000,000-line decision log (parse, sort, burn rates, canary).
fn bench_decision_log() {
    use std::io::Write;
    let path = root().join("target/bench-data/decisions-10m-labelled.jsonl");
    let lines = 10_000_000u64;
    if !path.exists() {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..lines {
            let version = if i % 10 == 0 { "2.0" } else { "1.9" };
            let decision = if i % 7 == 0 { "block" } else { "allow" };
            let error = if i % 5000 == 0 { "\"timeout\"" } else { "null" };
            let label = if i % 3 == 0 { "adversarial" } else { "benign" };
            writeln!(w, "{{\"ts\":{},\"decision\":\"{decision}\",\"error\":{error},\"latency-us\":{},\"policy-version\":\"{version}\",\"tenant\":\"t{}\",\"label\":\"{label}\"}}", 1_790_000_000_000u64 + i * 3, 80 + i % 97, i % 13).unwrap();
        }
    }
    let start = Instant::now();
    let mut names = gauntlet::release::logs::Names::default();
    let population = gauntlet::release::logs::Population::ByVersion("2.0".into());
    let bytes = std::fs::read(&path).unwrap();
    let (mut entries, bad) = gauntlet::release::logs::parse_log(&path, bytes, &population, &mut names, &()).unwrap();
    let parsed = start.elapsed().as_secs_f64();
    entries.sort_by_key(|e| e.ts_ms);
    let policy = gauntlet::release::ReleasePolicy::default();
    let canary: Vec<_> = entries.iter().filter(|e| e.canary).copied().collect();
    let alerts = gauntlet::release::burn_alerts(&canary, &policy);
    let check = gauntlet::release::canary_check(&entries, &policy, &Default::default());
    let judged = start.elapsed().as_secs_f64();
    let counting = gauntlet::metrics::CountingPolicy::default();
    let signals = gauntlet::release::signals::evaluate(&entries, &names, &policy.signals, &counting);
    println!(
        "decision log: {lines} labelled lines ingested in {judged:.2} s (parse {parsed:.2} s; {} bad lines; {} alert pairs; canary {}); {} signal rule states over {} tenants ({} firing): {:.2} s more",
        bad.len(),
        alerts.len(),
        check.status,
        signals.len(),
        names.tenants.len(),
        signals.iter().filter(|s| s.firing).count(),
        start.elapsed().as_secs_f64() - judged,
    );
}

/// Conversation replay through the built-in firewall: turns per second.
fn bench_conversations(n: usize) {
    use gauntlet::targets::Target;
    let dir = root().join("corpora/conversations");
    let seeds = gauntlet::corpus::load_corpora(std::slice::from_ref(&dir), &dir).unwrap().cases;
    let mut cases = Vec::with_capacity(n);
    for i in 0..n {
        let mut c = seeds[i % seeds.len()].clone();
        c.id = format!("conv-{i}");
        if let gauntlet::corpus::Payload::Conversation(m) = &mut c.payload {
            m[0].content.push_str(&format!(" (session {i})"));
        }
        cases.push(c);
    }
    let turns: usize = cases
        .iter()
        .map(|c| match &c.payload {
            gauntlet::corpus::Payload::Conversation(m) => m.len(),
            _ => 0,
        })
        .sum();
    let firewall = gauntlet::targets::builtin::Firewall::default_rules();
    let start = Instant::now();
    let replayed = firewall.replay(&cases, &()).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let blocked = replayed.outcomes.iter().filter(|o| o.blocked_at_turn.is_some()).count();
    println!(
        "conversations: {n} conversations ({turns} turns) in {secs:.2} s = {:.0} conversations/s, {:.0} turns/s (up to the blocking turn); {blocked} blocked",
        n as f64 / secs,
        turns as f64 / secs
    );
}

/// Loading alone: discovery, parsing, hashing and ids of the n-case corpus.
fn bench_load(n: usize) {
    let config = generate_project(n);
    let start = Instant::now();
    let cases = load_cases(&config);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "load: {} cases in {secs:.2} s = {:.0} cases/s; peak RSS {:.0} MiB",
        cases.len(),
        cases.len() as f64 / secs,
        peak_rss_mib().unwrap_or(0.0)
    );
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let n: usize = std::env::var("GAUNTLET_BENCH_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    if wanted("end_to_end") {
        bench_end_to_end(n);
    }
    if wanted("load") {
        bench_load(n);
    }
    if wanted("load_parquet") {
        load_parquet::bench_load_parquet(n);
    }
    // The firewall alone: `cargo bench -p gauntlet-firewall`.
    if wanted("exec") {
        bench_exec(n);
    }
    if wanted("http") {
        bench_http(n.min(100_000));
    }
    if wanted("rate") {
        rate::bench_rate_limit();
    }
    if wanted("open_loop") {
        open_loop::bench_open_loop();
    }
    if wanted("attack") {
        attack::bench_attack();
    }
    if wanted("calibrate") {
        bench_calibrate(n);
    }
    if wanted("merge") {
        bench_merge(n);
    }
    if wanted("judge") {
        bench_judge(n);
    }
    if wanted("conversations") {
        bench_conversations(n.min(200_000));
    }
    if wanted("decision_log") {
        bench_decision_log();
    }
    if wanted("transforms") {
        bench_transforms(n.min(100_000));
    }
    if wanted("check") {
        bench_check(n);
    }
    if wanted("conformance") {
        bench_conformance();
    }
}
