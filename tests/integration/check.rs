//! `gauntlet check`: every problem a run would meet, found without a replay.

use crate::helpers::*;

/// The bundled project is clean, and the check writes nothing.
#[test]
fn check_passes_on_the_bundled_project_and_writes_nothing() {
    let dir = scratch("check-bundled");
    for part in ["gauntlet.toml", "corpora", "gates", "fixtures", "waivers"] {
        let from = repo_root().join(part);
        if from.is_dir() {
            copy_tree(&from, &dir.join(part));
        } else {
            std::fs::copy(&from, dir.join(part)).unwrap();
        }
    }
    let out = gauntlet(&["check"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("ok — 758 cases"), "{said}");
    assert!(said.contains("target answered the health probe"), "{said}");
    assert!(!dir.join("reports").exists(), "check must not create the reports folder");
}

/// Six different mistakes in six files: all reported at once with their
/// file:line, exit 2, nothing replayed (the exec target would leave a mark)
/// and no report written. A `where` that matches nothing is only a warning.
#[test]
fn check_reports_six_mistakes_at_once() {
    let dir = scratch("check-five");
    write(
        &dir.join("gauntlet.toml"),
        "[target]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"touch replayed; cat\"]\n\n[run]\nreports = \"reports.txt\"\n",
    );
    write(&dir.join("reports.txt"), "a file where the reports folder should be\n");
    write(
        &dir.join("corpora/main/cases.jsonl"),
        "{\"id\":\"a\",\"input\":\"hello\",\"label\":\"benign\",\"category\":\"c\"}\n{\"id\":\"b\",\"input\":\"x\",\"label\":\"evil\",\"category\":\"c\"}\n",
    );
    write(
        &dir.join("corpora/other/corpus.toml"),
        "name = \"other\"\n\n[[file]]\npath = \"*.csv\"\ninput = \"prompt\"\nlabel = \"label\"\n",
    );
    write(&dir.join("corpora/other/data.csv"), "text,label\nhi,benign\n");
    write(
        &dir.join("gates/gates.toml"),
        "[[gate]]\nid = \"fpr\"\nmetric = \"fpr\"\nmax = 0.1\nwhere = { category = [\"no-such-category\"] }\n\n[[gate]]\nid = \"asr\"\nmetric = \"asr\"\nmaxx = 0.65\n",
    );
    write(
        &dir.join("fixtures/smoke.toml"),
        "[[case]]\nname = \"known\"\ninput = \"Explain how rain forms.\"\nexpect = \"allowed\"\n",
    );
    write(
        &dir.join("waivers/old.toml"),
        "[[waiver]]\nid = \"old\"\ngate = \"fpr\"\nowner = \"a@example.com\"\ncreated = \"2026-01-01\"\nexpires = \"2026-01-20\"\ntracking = \"SEC-1\"\nreason = \"r\"\nscope = \"full\"\nremove-when = \"fixed\"\n",
    );
    let out = gauntlet_with_env(&["check"], &dir, &[("GAUNTLET_TODAY", "2026-11-27")]);
    let err = stderr(&out);
    assert_eq!(out.code(), Some(2), "{err}");
    for expected in [
        "gauntlet.toml:6:", // reports = a file
        "cases.jsonl:2:",   // label `evil`
        "corpus.toml:",     // the mapping names a column the CSV lacks
        "gates.toml:",      // `maxx`
        "smoke.toml:",      // ref to no case
    ] {
        assert!(err.contains(expected), "missing {expected} in:\n{err}");
    }
    for code in ["unwritable-reports", "invalid-label", "unknown-column", "expired-waiver"] {
        assert!(err.contains(&format!("error[{code}]")), "missing {code} in:\n{err}");
    }
    assert!(!dir.join("replayed").exists(), "check must not start the target");
    assert!(std::fs::read_to_string(dir.join("reports.txt")).unwrap().starts_with("a file"));
}

/// An expired waiver is an error at its `expires` line; one expiring soon
/// and a `where` that matches nothing are warnings, which keep exit 0.
#[test]
fn check_judges_waivers_and_warns_without_failing() {
    let dir = project(
        "check-waivers",
        "{\"id\":\"a\",\"input\":\"hello\",\"label\":\"benign\",\"category\":\"c\"}\n",
        "[[gate]]\nid = \"fpr\"\nmetric = \"fpr\"\nmax = 0.1\nwhere = { category = [\"nope\"] }\n",
    );
    let waiver = |expires: &str| {
        format!("[[waiver]]\nid = \"w\"\ngate = \"fpr\"\nowner = \"a@example.com\"\ncreated = \"2026-11-20\"\nexpires = \"{expires}\"\ntracking = \"SEC-1\"\nreason = \"r\"\nscope = \"full\"\nremove-when = \"fixed\"\n")
    };
    write(&dir.join("gauntlet.toml"), "[target]\nkind = \"builtin\"\n\n[run]\nwaivers = \"waivers\"\n");
    write(&dir.join("waivers/w.toml"), &waiver("2026-11-29"));
    let soon = gauntlet_with_env(&["check"], &dir, &[("GAUNTLET_TODAY", "2026-11-27")]);
    assert_eq!(soon.code(), Some(0), "{}", stderr(&soon));
    assert!(stderr(&soon).contains("warning[expiring-waiver]"), "{}", stderr(&soon));
    assert!(stderr(&soon).contains("warning[unmatched-filter]"), "{}", stderr(&soon));
    let late = gauntlet_with_env(&["check"], &dir, &[("GAUNTLET_TODAY", "2026-12-05")]);
    assert_eq!(late.code(), Some(2), "{}", stderr(&late));
    assert!(stderr(&late).contains("w.toml:6:"), "at the expires line: {}", stderr(&late));
    assert!(stderr(&late).contains("error[expired-waiver]"), "{}", stderr(&late));
}

/// Only the probe fails: exit 3 with the target's own words; `--offline`
/// skips it and passes.
#[test]
fn check_exits_3_when_only_the_target_probe_fails() {
    let dir =
        project("check-probe", "{\"id\":\"a\",\"input\":\"hello\",\"label\":\"benign\",\"category\":\"c\"}\n", "");
    write(
        &dir.join("gauntlet.toml"),
        "[target]\nkind = \"exec\"\ncommand = [\"sh\", \"-c\", \"echo cannot load the model >&2; exit 1\"]\n",
    );
    let out = gauntlet(&["check"], &dir);
    assert_eq!(out.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot load the model"), "{}", stderr(&out));
    let offline = gauntlet(&["check", "--offline"], &dir);
    assert_eq!(offline.code(), Some(0), "{}", stderr(&offline));
    assert!(stdout(&offline).contains("not probed (--offline)"));
}

/// Sign-off records and promotion stages are checked with the rest: a
/// sign-off for a rule that does not exist, one missing its owner, and a
/// stage requiring a gate that does not exist, all at once.
#[test]
fn check_reports_broken_sign_offs_and_a_stage_naming_no_gate() {
    let dir = scratch("check-sign-offs");
    for part in ["corpora", "gates", "fixtures", "waivers"] {
        copy_tree(&repo_root().join(part), &dir.join(part));
    }
    let config = std::fs::read_to_string(repo_root().join("gauntlet.toml")).unwrap();
    write(
        &dir.join("gauntlet.toml"),
        &format!("{config}\n[[release.promotion.stages]]\nname = \"canary\"\ntraffic-percent = 5\nmin-soak-hours = 1\ngates = [\"fpr\", \"fpr-typo\"]\n"),
    );
    write(
        &dir.join("sign-offs/incidents.toml"),
        "[[sign-off]]\nincident = \"INC-1\"\nowner = \"a@example.com\"\ndate = \"2026-11-20\"\nmitigation = \"m\"\nrules = [\"fpr-hgh\"]\n\n[[sign-off]]\nincident = \"INC-2\"\ndate = \"2026-11-20\"\nmitigation = \"m\"\nrules = [\"fpr-high\"]\n",
    );
    let out = gauntlet(&["check", "--offline", "--today", "2026-11-22"], &dir);
    let err = stderr(&out);
    assert_eq!(out.code(), Some(2), "{err}");
    assert!(err.contains("incidents.toml:6:1: error[unknown-rule]: no signal rule `fpr-hgh`"), "{err}");
    assert!(err.contains("incidents.toml:8:1: error[invalid-sign-off]") && err.contains("owner"), "{err}");
    assert!(err.contains("error[unknown-gate]: stage `canary` requires no gate `fpr-typo`"), "{err}");
    assert!(!err.contains("gate `fpr`"), "{err}");
}
