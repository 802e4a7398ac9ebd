//! `run --resume`: a run cut off part way (SIGINT, SIGKILL, a request
//! budget spent by retries) continues from its journal, sends only what is
//! missing, and ends with the verdict an uninterrupted run gives.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::targets::{python_gate, script};

const GATES: &str = "[[gate]]\nid = \"errors\"\nmetric = \"error-rate\"\nmax = 0.05\n\n\
                     [[gate]]\nid = \"fpr\"\nmetric = \"fpr\"\nmax = 0.1\nmin-samples = 10\n";

/// 120 cases through an exec gate answering one at a time, 20 ms each (about
/// 2.5 s in all); the fourth case is answered twice (a protocol error), so a
/// recorded target error is among the outcomes a resume must keep.
fn slow_project(name: &str) -> PathBuf {
    let mut corpus = String::new();
    for i in 0..120 {
        let text = match i {
            3 => "DUP".to_string(),
            i if i % 3 == 0 => format!("attack {i}"),
            i => format!("hello {i}"),
        };
        let label = if text.starts_with("attack") { "adversarial" } else { "benign" };
        corpus.push_str(&format!(
            "{{\"id\":\"c{i:03}\",\"input\":\"{text}\",\"label\":\"{label}\",\"category\":\"x\"}}\n"
        ));
    }
    let dir = project(name, &corpus, GATES);
    write(
        &dir.join("gauntlet.toml"),
        &format!(
            "[target]\nkind = \"exec\"\ncommand = [\"python3\", \"{}\", \"slow\"]\nwindow = 1\nworkers = 1\n",
            script("exec_gate.py")
        ),
    );
    dir
}

fn journal(dir: &Path) -> PathBuf {
    dir.join(".gauntlet/journal-full.jsonl")
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// results.jsonl without latencies, keyed by id.
fn results(dir: &Path) -> Vec<serde_json::Value> {
    lines(&dir.join("reports/results.jsonl"))
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("latency-us");
            v.as_object_mut().unwrap().remove("queue-us");
            v
        })
        .collect()
}

/// A run started in the background, stopped by `stop` once its journal
/// holds at least `after` outcomes.
fn interrupted_run(dir: &Path, after: usize, stop: impl FnOnce(&mut std::process::Child)) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["run", "--quiet"])
        .current_dir(dir)
        .env_remove("CI")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&journal(dir)).len() < after + 1 {
        assert!(Instant::now() < deadline, "the journal never reached {after} outcomes");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was interrupted");
        std::thread::sleep(Duration::from_millis(10));
    }
    stop(&mut child);
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted run does not pass: {status}");
}

fn resume_gives_the_uninterrupted_verdict(name: &str, stop: impl FnOnce(&mut std::process::Child)) {
    let dir = slow_project(name);
    let whole = gauntlet(&["run", "--quiet"], &dir);
    let whole_code = whole.code();
    assert!(!journal(&dir).exists(), "a finished run leaves no journal");
    let (whole_verdict, whole_results) = (without_timings(read_json(&dir.join("reports/verdict.json"))), results(&dir));
    assert_eq!(whole_results[3]["error"]["kind"], "protocol", "{}", whole_results[3]);
    std::fs::remove_dir_all(dir.join("reports")).unwrap();

    interrupted_run(&dir, 30, stop);
    assert!(!dir.join("reports/verdict.json").exists(), "an interrupted run writes no verdict");
    // A set: a case's outcome changed after it was told (the second answer
    // of c003) is journaled again, and the last line wins.
    let recorded: std::collections::BTreeSet<u64> = lines(&journal(&dir))[1..]
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["case"].as_u64().unwrap())
        .collect();
    assert!(recorded.len() >= 30 && recorded.len() < 120, "{} outcomes recorded", recorded.len());
    assert!(recorded.contains(&3), "the protocol error was recorded before the interruption");

    let log = dir.join("requests.log");
    let resumed = gauntlet_with_env(&["run", "--quiet", "--resume"], &dir, &[("EXEC_GATE_LOG", log.to_str().unwrap())]);
    assert_eq!(resumed.code(), whole_code, "{}", stderr(&resumed));
    assert_eq!(without_timings(read_json(&dir.join("reports/verdict.json"))), whole_verdict);
    assert_eq!(results(&dir), whole_results);
    assert!(!journal(&dir).exists(), "the journal is removed once the verdict is written");
    // Only cases without an outcome were sent again: the recorded error too was kept.
    let sent: Vec<String> = lines(&log).into_iter().filter(|id| id.starts_with('c')).collect();
    assert_eq!(sent.len(), 120 - recorded.len(), "resumed run sent {sent:?}");
    for case in &recorded {
        assert!(!sent.contains(&format!("c{case:03}")), "c{case:03} was recorded and sent again");
    }
}

#[test]
fn resume_after_sigint_gives_the_uninterrupted_verdict() {
    resume_gives_the_uninterrupted_verdict("resume-sigint", |child| {
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
    });
}

#[test]
fn resume_after_sigkill_gives_the_uninterrupted_verdict() {
    resume_gives_the_uninterrupted_verdict("resume-sigkill", |child| child.kill().unwrap());
}

#[test]
fn resume_is_refused_when_an_input_changed_or_nothing_was_interrupted() {
    let dir = slow_project("resume-refused");
    let none = gauntlet(&["run", "--quiet", "--resume"], &dir);
    assert_eq!(none.code(), Some(2));
    assert!(stderr(&none).contains("nothing to resume"), "{}", stderr(&none));

    interrupted_run(&dir, 10, |child| child.kill().unwrap());
    write(&dir.join("gates/gates.toml"), &GATES.replace("max = 0.05", "max = 0.06"));
    let changed = gauntlet(&["run", "--quiet", "--resume"], &dir);
    assert_eq!(changed.code(), Some(2));
    let err = stderr(&changed);
    assert!(err.contains("journal-mismatch") && err.contains("the gate files changed"), "{err}");
    assert!(journal(&dir).exists(), "a refused resume keeps the journal");

    let builtin =
        project("resume-builtin", "{\"id\":\"a\",\"input\":\"hi\",\"label\":\"benign\",\"category\":\"x\"}\n", "");
    let refused = gauntlet(&["run", "--quiet", "--resume"], &builtin);
    assert_eq!(refused.code(), Some(2));
    assert!(stderr(&refused).contains("built-in target"), "{}", stderr(&refused));
}

/// An http project whose gate answers each case with a 500 once, then
/// for real, under `max-requests = 12`: a run of it stops mid-way.
fn flaky_project_with_a_budget(name: &str) -> (crate::targets::Server, PathBuf) {
    let server = python_gate("flaky500");
    let dir = crate::targets::http_project(
        name,
        &format!("url = \"{}/check\"\n{}\nconcurrency = 1\nmax-requests = 12", server.url, crate::targets::ADAPTED),
    );
    (server, dir)
}

/// Every case fails once with a 500 before it is answered, so the run needs
/// twice the requests its plan counts: with `max-requests = 12` (the plan
/// is 8 cases + the probe + one warm-up = 10) it stops mid-way, exit 3, and
/// the resumed run (a fresh budget, for the cases left) finishes.
#[test]
fn a_budget_spent_by_retries_stops_the_run_and_resume_finishes_it() {
    let (_server, dir) = flaky_project_with_a_budget("resume-budget");
    let dry = gauntlet(&["run", "--dry-run"], &dir);
    assert_eq!(dry.code(), Some(0));
    assert!(stdout(&dry).contains("dry run: 10 requests"), "{}", stdout(&dry));

    let stopped = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(stopped.code(), Some(3), "{}", stderr(&stopped));
    let err = stderr(&stopped);
    assert!(err.contains("request budget ran out mid-run after 12 requests"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    let recorded = lines(&journal(&dir)).len() - 1;
    assert!((1..8).contains(&recorded), "{recorded} outcomes recorded");

    let resumed = gauntlet(&["run", "--quiet", "--resume"], &dir);
    assert_eq!(resumed.code(), Some(0), "{}", stderr(&resumed));
    let results = results(&dir);
    assert_eq!(results.len(), 8);
    assert!(results.iter().all(|r| r["error"].is_null() && r["decision"].is_string()), "{results:#?}");
}

/// Regression (#37): the corpora hash took corpus.toml paths as spelled, so
/// a run interrupted from the project folder could not be resumed with
/// `--config /abs/…/gauntlet.toml` ("the corpora changed"), nor after the
/// folder moved.
#[test]
fn resume_works_with_an_absolute_config_and_after_the_folder_moved() {
    let dir = slow_project("resume-spelling");
    write(&dir.join("corpora/corpus.toml"), "name = \"cases\"\n");
    interrupted_run(&dir, 10, |child| child.kill().unwrap());
    let config = dir.join("gauntlet.toml").canonicalize().unwrap();
    let elsewhere = repo_root();
    let resumed = gauntlet(&["run", "--quiet", "--resume", "--config", config.to_str().unwrap()], &elsewhere);
    assert!(matches!(resumed.code(), Some(0 | 1)), "{}", stderr(&resumed));

    interrupted_run(&dir, 10, |child| child.kill().unwrap());
    let moved = dir.with_file_name("resume-spelling-moved");
    let _ = std::fs::remove_dir_all(&moved);
    std::fs::rename(&dir, &moved).unwrap();
    let resumed = gauntlet(&["run", "--quiet", "--resume"], &moved);
    assert!(matches!(resumed.code(), Some(0 | 1)), "{}", stderr(&resumed));
    assert_eq!(results(&moved).len(), 120);
}

/// Regression (#37): a journal with the same case twice (the second line
/// changed by hand) resumed with the later line winning, and a golden gate
/// flipped. Only a line the run itself marked as a revision may repeat.
#[test]
fn a_journal_with_a_case_pasted_twice_is_refused_at_its_line() {
    let (_server, dir) = flaky_project_with_a_budget("resume-duplicate");
    let stopped = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(stopped.code(), Some(3), "{}", stderr(&stopped));
    let mut text = lines(&journal(&dir));
    assert!(text.len() >= 2, "{text:?}");
    let flipped = text[1].replace("\"allow\"", "\"block\"");
    text.push(flipped);
    write(&journal(&dir), &(text.join("\n") + "\n"));
    let resumed = gauntlet(&["run", "--quiet", "--resume"], &dir);
    assert_eq!(resumed.code(), Some(2), "{}", stderr(&resumed));
    let err = stderr(&resumed);
    assert!(
        err.contains(&format!("journal-full.jsonl:{}: error[unreadable-journal]", text.len()))
            && err.contains("journaled twice"),
        "{err}"
    );
}
