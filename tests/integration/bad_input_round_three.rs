//! Bad input, round three (#37): one row per defect found in the features
//! added after the core (release and production signals, sign-offs,
//! Prometheus export, budgets, transforms and templates, `diff`, datasets).
//! Each row is what a user does and what they now see: the exit code and
//! the words of the message. Every row failed before the fix (a panic, a
//! silent wrong answer, the wrong exit code or the wrong place).

use std::path::Path;

use crate::helpers::*;

/// One defect: a project edit, the command, and what the user must see.
struct Row {
    name: &'static str,
    setup: fn(&Path),
    args: &'static [&'static str],
    code: i32,
    /// Each must appear in stderr (or stdout, for warnings `check` prints).
    says: &'static [&'static str],
}

fn append(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    let mut old = std::fs::read_to_string(&path).unwrap_or_default();
    old.push_str(text);
    write(&path, &old);
}

/// The bundled config with its `[transforms]` table replaced by `table`.
fn transforms(dir: &Path, table: &str) {
    let config = std::fs::read_to_string(dir.join("gauntlet.toml")).unwrap();
    let (head, _) = config.split_once("\n[transforms]").unwrap();
    write(&dir.join("gauntlet.toml"), &format!("{head}\n[transforms]\n{table}"));
}

fn http_target(dir: &Path, extra: &str) {
    let config = std::fs::read_to_string(dir.join("gauntlet.toml")).unwrap();
    let rest = config.split_once("\n[run]").map(|(_, r)| format!("\n[run]{r}")).unwrap();
    write(
        &dir.join("gauntlet.toml"),
        &format!("[target]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/check\"\n{extra}\n{rest}"),
    );
}

/// One decision a second, `n` of them, from 2026-09-21 on.
fn log(n: i64) -> String {
    (0..n).map(|i| format!("{{\"ts\":{},\"decision\":\"allow\",\"latency-us\":90}}\n", 1_790_000_000 + i)).collect()
}

const ROWS: &[Row] = &[
    Row {
        name: "rate-limit of 1e-300 panicked in run while check said ok",
        setup: |d| http_target(d, "rate-limit = 1e-300"),
        args: &["check", "--offline"],
        code: 2,
        says: &["gauntlet.toml:4:1: error[out-of-range]", "`target.rate-limit` = 1e-300 must be in [0.001, 1000000]"],
    },
    Row {
        name: "cost = nan made the budget void",
        setup: |d| http_target(d, "cost = nan\nmax-cost = 1"),
        args: &["run", "--dry-run"],
        code: 2,
        says: &["gauntlet.toml:4:1: error[out-of-range]", "`target.cost` = NaN must be a finite number ≥ 0"],
    },
    Row {
        name: "max-requests = 0 passed check but stopped run",
        setup: |d| http_target(d, "max-requests = 0"),
        args: &["check", "--offline"],
        code: 2,
        says: &["error[out-of-range]", "`target.max-requests` = 0"],
    },
    Row {
        name: "a negative max-cost passed check",
        setup: |d| http_target(d, "cost = 1\nmax-cost = -1"),
        args: &["check", "--offline"],
        code: 2,
        says: &["error[out-of-range]", "`target.max-cost` = -1"],
    },
    Row {
        name: "window-minutes = 0 was clamped to 1 (a NO-GO became GO)",
        setup: |d| append(d, "gauntlet.toml", "\n[release.signals]\nwindow-minutes = 0\n"),
        args: &["check", "--offline"],
        code: 2,
        says: &["error[out-of-range]", "`release.signals.window-minutes` = 0 must be in [1, 10080]"],
    },
    Row {
        name: "a rollback row that could never fire was accepted",
        setup: |d| append(d, "gauntlet.toml", "\n[[release.rollback]]\nmax-age-hours = -1\nerror-rate-above = 2\n"),
        args: &["check", "--offline"],
        code: 2,
        says: &["`release.rollback.0.max-age-hours` = -1", "`release.rollback.0.error-rate-above` = 2"],
    },
    Row {
        name: "a metric name with a newline injected a rule into the exported YAML",
        setup: |d| {
            append(
                d,
                "gauntlet.toml",
                "\n[release.metrics]\nrequests = \"x\\n      - alert: Injected\"\ntrack-label = \"my-track\"\n",
            )
        },
        args: &["alerts", "--format", "prometheus"],
        code: 2,
        says: &[
            "error[invalid-prometheus-name]",
            "`x\\n      - alert: Injected` is not a Prometheus metric name",
            "`my-track` is not a Prometheus label name",
        ],
    },
    Row {
        name: "a sign-offs folder that does not exist dropped every record",
        setup: |d| append(d, "gauntlet.toml", "\n[release.promotion]\nsign-offs = \"no-such-folder\"\n"),
        args: &["check", "--offline"],
        code: 2,
        says: &["error[missing-folder]", "no-such-folder, which is not a folder"],
    },
    Row {
        name: "a microsecond timestamp made release grow past 7.8 GB",
        setup: |d| write(&d.join("canary.jsonl"), "{\"ts\":1790000000000000,\"decision\":\"allow\"}\n"),
        args: &["release", "--decision-log", "canary:canary.jsonl"],
        code: 2,
        says: &["canary.jsonl:1: error[invalid-timestamp]", "microseconds are not read"],
    },
    Row {
        name: "a log line that is a JSON array said `invalid type: integer`",
        setup: |d| write(&d.join("canary.jsonl"), &format!("{}[1790000000, \"allow\"]\n", log(3))),
        args: &["release", "--decision-log", "canary:canary.jsonl"],
        code: 2,
        says: &["canary.jsonl:4: error[invalid-log-line]", "must be one JSON object"],
    },
    Row {
        name: "a 50 MB tenant name made each report 200 MB",
        setup: |d| {
            let tenant = "t".repeat(5000);
            write(
                &d.join("canary.jsonl"),
                &format!("{}{{\"ts\":1790000100,\"decision\":\"allow\",\"tenant\":\"{tenant}\"}}\n", log(3)),
            )
        },
        args: &["release", "--decision-log", "canary:canary.jsonl"],
        code: 2,
        says: &["canary.jsonl:4: error[invalid-tenant]", "longer than 200 characters", "tttt…"],
    },
    Row {
        name: "the same decision log given twice counted every decision twice",
        setup: |d| {
            write(&d.join("a.jsonl"), &log(50));
            write(&d.join("b.jsonl"), &log(50));
        },
        args: &["release", "--decision-log", "canary:a.jsonl", "--decision-log", "canary:b.jsonl"],
        code: 2,
        says: &["b.jsonl: error[duplicate-log]", "same bytes as a.jsonl"],
    },
    Row {
        name: "--deployed-at after the log's last decision judged rollback over nothing",
        setup: |d| write(&d.join("canary.jsonl"), &log(50)),
        args: &["release", "--decision-log", "canary:canary.jsonl", "--deployed-at", "2027-01-01T00:00:00Z"],
        code: 2,
        says: &["--deployed-at 2027-01-01T00:00:00Z is after the last decision of the log"],
    },
    Row {
        name: "--stage-started-at years before the log counted soak nobody watched (GO)",
        setup: |d| write(&d.join("canary.jsonl"), &log(50)),
        args: &[
            "release",
            "--decision-log",
            "canary:canary.jsonl",
            "--stage",
            "canary-10",
            "--stage-started-at",
            "2020-01-01T00:00:00Z",
        ],
        code: 2,
        says: &["--stage-started-at 2020-01-01T00:00:00Z is before the first decision of the log"],
    },
    Row {
        name: "a stage requiring an unknown gate failed check but was a NO-GO in release",
        setup: |d| {
            let stage = "[[release.promotion.stages]]\nname = \"canary-10\"\ntraffic-percent = 10\nmin-soak-hours = 1\ngates = [\"fpr\", \"no-such-gate\"]\n";
            append(d, "gauntlet.toml", &format!("\n{stage}"));
            write(&d.join("canary.jsonl"), &log(50));
        },
        args: &["release", "--decision-log", "canary:canary.jsonl"],
        code: 2,
        says: &["error[unknown-gate]", "requires no gate `no-such-gate`"],
    },
    Row {
        name: "a chain that can never make a variant gave zero variants without a word",
        setup: |d| transforms(d, "apply = [\"base64-secret+split-turns\"]\n"),
        args: &["check", "--offline"],
        code: 2,
        says: &["error[unknown-transform]", "`base64-secret+split-turns` can never make a variant"],
    },
    Row {
        name: "where.transform naming no chain got no unmatched-filter warning",
        setup: |d| {
            transforms(d, "apply = [\"base64\"]\n");
            append(
                d,
                "gates/typo.toml",
                "[[gate]]\nid = \"evasion-typo\"\nmetric = \"asr\"\nmax = 0.5\nwhere = { transform = \"nope\" }\n",
            );
        },
        args: &["check", "--offline"],
        code: 0,
        says: &["warning[unmatched-filter]", "where transform = \"nope\" is no chain of [transforms] (chains: base64)"],
    },
    Row {
        name: "an expanded corpus replayed with [transforms] on held 11,504 duplicate ids",
        setup: |d| {
            transforms(d, "apply = [\"base64\"]\nlanes = [\"preflight\", \"full\"]\n");
            let out = gauntlet(&["corpus", "expand", "--out", "corpora/expanded.jsonl"], d);
            assert_eq!(out.code(), Some(0), "{}", stderr(&out));
        },
        args: &["check", "--offline"],
        code: 2,
        says: &["expanded.jsonl:1: error[duplicate-id]", "is in the corpus and made again by [transforms]"],
    },
    Row {
        name: "`texts = []` in a templates file said every text needs {text}",
        setup: |d| {
            write(&d.join("templates.toml"), "[[template]]\nname = \"wrap\"\ntexts = []\n");
            transforms(d, "apply = [\"wrap\"]\ntemplates = \"templates.toml\"\n");
        },
        args: &["check", "--offline"],
        code: 2,
        // At the key in the templates file, not at gauntlet.toml.
        says: &["templates.toml:3:1: error[unknown-transform]", "template `wrap` has no text"],
    },
    Row {
        name: "a syntax error in a templates file was reported at gauntlet.toml",
        setup: |d| {
            write(&d.join("templates.toml"), "[[template]]\nname = \"wrap\"\ntexts = [\"{text}\"\n");
            transforms(d, "apply = [\"wrap\"]\ntemplates = \"templates.toml\"\n");
        },
        args: &["check", "--offline"],
        code: 2,
        says: &["templates.toml:3:"],
    },
    Row {
        name: "an unknown sign-off key was reported at its table header",
        setup: |d| {
            write(
                &d.join("sign-offs/inc-1.toml"),
                "[[sign-off]]\nincident = \"INC-1\"\nowner = \"a@example.com\"\ndate = \"2026-11-01\"\nmitigation = \"m\"\nrules = [\"fpr-high\"]\nreviewer = \"bob\"\n",
            )
        },
        args: &["check", "--offline", "--today", "2026-11-22"],
        code: 2,
        says: &["inc-1.toml:7:1: error[invalid-sign-off]", "unknown field `reviewer`"],
    },
    Row {
        name: "a garbage corpus.lock was not reported until `corpus fetch`",
        setup: |d| {
            write(
                &d.join("corpora/remote/corpus.toml"),
                "name = \"remote\"\n[fetch]\nurl = \"https://example.com/data.jsonl\"\n",
            );
            write(&d.join("corpora/remote/corpus.lock"), "this is not toml\n");
        },
        args: &["check", "--offline"],
        code: 2,
        says: &["corpus.lock:1:", "error[invalid-lock]"],
    },
    Row {
        name: "an unwritable `corpus expand --out` was exit 3 with the OS message twice",
        setup: |d| transforms(d, "apply = [\"base64\"]\n"),
        args: &["corpus", "expand", "--out", "gauntlet.toml/x.jsonl"],
        code: 2,
        says: &["--out gauntlet.toml/x.jsonl"],
    },
];

fn bundled(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    for sub in ["corpora", "gates", "fixtures", "waivers", "sign-offs"] {
        copy_tree(&repo_root().join(sub), &dir.join(sub));
    }
    std::fs::copy(repo_root().join("gauntlet.toml"), dir.join("gauntlet.toml")).unwrap();
    dir
}

#[test]
fn each_defect_of_round_three_is_an_input_error_with_a_clear_message() {
    let mut failures = Vec::new();
    for (i, row) in ROWS.iter().enumerate() {
        let dir = bundled(&format!("round-three-{i}"));
        (row.setup)(&dir);
        let out = gauntlet(row.args, &dir);
        let code = out.code();
        let said = format!("{}{}", stderr(&out), stdout(&out));
        let missing: Vec<&&str> = row.says.iter().filter(|s| !said.contains(**s)).collect();
        if code != Some(row.code) || !missing.is_empty() {
            failures.push(format!("{}: exit {code:?} (want {}), missing {missing:?} in:\n{said}", row.name, row.code));
        }
        // An input error writes nothing half-done.
        if row.code == 2 {
            assert!(!dir.join("reports/release-readiness.json").exists(), "{}", row.name);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Messages name files as the user can open them from where they stand:
/// a corpus problem seen with `--config` from outside the project.
#[test]
fn a_corpus_error_names_the_file_from_where_the_user_stands() {
    let dir = bundled("round-three-cwd");
    append(&dir, "corpora/example/benign.jsonl", "{\"id\":\"zz\",\"input\":\"x\",\"label\":\"bad\"}\n");
    let parent = dir.parent().unwrap();
    let out = gauntlet(&["check", "--offline", "--config", "round-three-cwd/gauntlet.toml"], parent);
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).contains("round-three-cwd/corpora/example/benign.jsonl:"), "{}", stderr(&out));
    // From inside the project, as before.
    let out = gauntlet(&["check", "--offline"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).starts_with("corpora/example/benign.jsonl:"), "{}", stderr(&out));
}

/// `diff` read a results.jsonl with a case twice and counted it twice.
#[test]
fn a_results_file_with_a_case_twice_is_refused_by_diff() {
    let dir = bundled("round-three-diff");
    let run = gauntlet(&["run", "--quiet"], &dir);
    assert!(run.code().unwrap() <= 1, "{}", stderr(&run));
    let b = dir.join("b");
    copy_tree(&dir.join("reports"), &b);
    let results = std::fs::read_to_string(b.join("results.jsonl")).unwrap();
    let first = results.lines().next().unwrap().to_string();
    write(&b.join("results.jsonl"), &format!("{results}{first}\n"));
    let out = gauntlet(&["diff", "reports", "b", "--out", "d"], &dir);
    assert_eq!(out.code(), Some(2), "{}", stderr(&out));
    let lines = results.lines().count() + 1;
    assert!(
        stderr(&out).contains(&format!("results.jsonl:{lines}: error[duplicate-case]"))
            && stderr(&out).contains("first at line 1"),
        "{}",
        stderr(&out)
    );
}
