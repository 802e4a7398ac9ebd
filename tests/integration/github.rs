//! `--format github`: annotations at the offending lines, and hostile text
//! that cannot issue workflow commands under GitHub Actions.

use std::path::Path;
use std::process::Command;

use crate::helpers::*;
use crate::waivers::{failing_project, waiver};

/// gauntlet's stdout and stderr in one stream, in the order written, as the
/// runner reads a step's output.
fn combined(args: &[&str], dir: &Path, github_actions: bool) -> (i32, Vec<String>) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("exec \"$@\" 2>&1")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("GAUNTLET_TODAY")
        .env("GITHUB_WORKSPACE", dir);
    if github_actions {
        command.env("GITHUB_ACTIONS", "true");
    } else {
        command.env_remove("GITHUB_ACTIONS");
    }
    let out = command.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap(), text.lines().map(str::to_string).collect())
}

/// The commands a GitHub runner would act on in `lines`: the runner's
/// rules, stop-commands included.
fn honoured(lines: &[String]) -> Vec<String> {
    let mut stopped: Option<String> = None;
    let mut commands = Vec::new();
    for line in lines {
        let line = line.trim_start();
        if let Some(token) = &stopped {
            if line == format!("::{token}::") {
                stopped = None;
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("::") else { continue };
        if let Some(token) = rest.strip_prefix("stop-commands::") {
            stopped = Some(token.to_string());
            continue;
        }
        commands.push(line.to_string());
    }
    commands
}

#[test]
fn a_failing_gate_and_an_expiring_waiver_are_annotated_at_their_lines() {
    let dir = failing_project("github-gate");
    // `fpr` is waived by a waiver expiring in 3 days; `fpr-strict` fails.
    write(&dir.join("waivers/w.toml"), &waiver("w-fpr", "fpr", "2026-11-20", "2026-11-25", "both"));
    write(
        &dir.join("gates/strict.toml"),
        "[[gate]]\nid = \"fpr-strict\"\nmetric = \"fpr\"\nmax = 0.0\nbound = \"point\"\n",
    );
    let (code, lines) = combined(&["run", "--quiet", "--format", "github", "--today", "2026-11-22"], &dir, true);
    assert_eq!(code, 1, "{lines:#?}");
    let commands = honoured(&lines);
    assert_eq!(commands.len(), 2, "{commands:#?}");
    // `%` is escaped as GitHub unescapes it (%25).
    assert!(
        commands[0].starts_with(
            "::error file=gates/strict.toml,line=1,title=gauntlet gate fpr-strict fail::fpr-strict: 100.00%25 (95%25 interval [83.89%25, 100.00%25]), threshold ≤ 0.00%25, 20 samples"
        ),
        "{commands:#?}"
    );
    assert!(
        commands[1].starts_with(
            "::warning file=waivers/w.toml,line=1,title=gauntlet waiver w-fpr::waiver w-fpr expires in 3 day(s)"
        ),
        "{commands:#?}"
    );
    // The gate table is still printed, inside the shield.
    assert!(lines.iter().any(|l| l.starts_with("FAIL    fpr-strict")), "{lines:#?}");
    let (_, lines) = combined(&["check", "--offline", "--format", "github", "--today", "2026-11-22"], &dir, true);
    let warnings = honoured(&lines);
    assert!(
        warnings.iter().any(|c| c.starts_with("::warning file=waivers/w.toml,line=") && c.contains("expiring-waiver")),
        "{warnings:#?}"
    );
}

#[test]
fn a_config_error_is_annotated_at_its_file_line_and_column() {
    let dir = project(
        "github-config-error",
        "{\"id\":\"a\",\"input\":\"hi\",\"label\":\"benign\",\"category\":\"x\"}\n{\"id\":\"b\",\"input\":\"yo\",\"label\":\"maybe\",\"category\":\"x\"}\n",
        "",
    );
    write(&dir.join("gates/bad.toml"), "[[gate]]\nid = \"x\"\nmetric = \"fpr\"\nmax = 0.1\nlanes = 3\n");
    let (code, lines) = combined(&["run", "--format", "github"], &dir, true);
    assert_eq!(code, 2);
    let commands = honoured(&lines);
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("::error file=corpora/cases.jsonl,line=2,") && c.contains("invalid-label")),
        "{commands:#?}"
    );
    assert!(
        commands.iter().any(|c| c.starts_with("::error file=gates/bad.toml,line=5,col=") && c.contains("invalid-toml")),
        "{commands:#?}"
    );
}

/// Case text and messages carry workflow commands, one after a newline so
/// it starts a line of its own in the error message.
#[test]
fn workflow_commands_in_hostile_text_are_never_honoured() {
    let payloads = ["::error::pwned", "::add-mask::secret-value", "::set-output name=verdict::pass"];
    let mut corpus = String::new();
    for (i, p) in payloads.iter().enumerate() {
        let label = serde_json::to_string(&format!("nope\n{p}")).unwrap();
        corpus.push_str(&format!("{{\"id\":\"h{i}\",\"input\":\"{p}\",\"label\":{label},\"category\":\"x\"}}\n"));
    }
    let dir = project("github-injection", &corpus, "");
    // Without the shield the payloads would be commands: the test can fail.
    let (_, bare) = combined(&["run", "--quiet"], &dir, false);
    assert!(honoured(&bare).iter().any(|c| c.starts_with("::add-mask::")), "{bare:#?}");

    for format in ["github", "human"] {
        let (code, lines) = combined(&["run", "--quiet", "--format", format], &dir, true);
        assert_eq!(code, 2);
        let commands = honoured(&lines);
        for c in &commands {
            assert!(c.starts_with("::error file=corpora/cases.jsonl,line="), "honoured: {c}\n{lines:#?}");
            assert!(!c.contains('\n'));
        }
        assert_eq!(commands.len(), if format == "github" { 3 } else { 0 }, "{commands:#?}");
        assert!(lines.iter().any(|l| l.starts_with("::add-mask::secret-value")), "shown, inert: {lines:#?}");
    }
}

/// Regression: warnings from `run` (a gate filter that matches no case)
/// were rendered strings in the verdict, so they never became annotations
/// while the same warnings from `check` did.
#[test]
fn a_runs_warnings_are_annotated_at_their_lines_like_checks() {
    let dir = failing_project("github-run-warning");
    write(
        &dir.join("gates/typo.toml"),
        "[[gate]]\nid = \"fpr-typo\"\nmetric = \"fpr\"\nmax = 1.0\nmode = \"shadow\"\nwhere = { category = [\"no-such-category\"] }\n",
    );
    let (_, lines) = combined(&["run", "--quiet", "--format", "github", "--today", "2026-11-22"], &dir, true);
    let from_run: Vec<String> = honoured(&lines).into_iter().filter(|c| c.contains("unmatched")).collect();
    let (_, lines) = combined(&["check", "--offline", "--format", "github", "--today", "2026-11-22"], &dir, true);
    let from_check: Vec<String> = honoured(&lines).into_iter().filter(|c| c.contains("unmatched")).collect();
    assert_eq!(from_run.len(), 1, "{from_run:#?}");
    assert!(from_run[0].starts_with("::warning file=gates/typo.toml,line=1"), "{from_run:#?}");
    assert_eq!(from_run, from_check);
    let verdict = read_json(&dir.join("reports/verdict.json"));
    let d = &verdict["diagnostics"][0];
    assert!(d["location"]["path"].as_str().is_some_and(|p| p.ends_with("gates/typo.toml")), "{d}");
    assert_eq!(d["location"]["line"], 1, "{d}");
    assert_eq!(d["code"], "unmatched-filter", "{d}");
}
