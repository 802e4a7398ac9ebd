//! `gauntlet completions` and `gauntlet man`: generated from the parser,
//! so they list exactly its commands. The bash script is loaded in bash
//! and asked to complete, as a shell user's Tab would.

use crate::helpers::*;

#[test]
fn bash_completes_gauntlet_r_to_run_release_and_report() {
    let dir = scratch("shell-completions");
    let out = gauntlet(&["completions", "bash"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let script = dir.join("gauntlet.bash");
    write(&script, &stdout(&out));
    // What Tab after `gauntlet r` offers, through the script's own function
    // registered with `complete`.
    let probe = format!(
        "source {}; complete -p gauntlet >/dev/null || exit 9; COMP_WORDS=(gauntlet r); COMP_CWORD=1; COMP_LINE='gauntlet r'; COMP_POINT=10; _gauntlet gauntlet r gauntlet; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let bash = std::process::Command::new("bash").args(["--norc", "-c", &probe]).output().expect("bash runs");
    assert!(bash.status.success(), "{}", String::from_utf8_lossy(&bash.stderr));
    let mut offered: Vec<String> = String::from_utf8_lossy(&bash.stdout).lines().map(String::from).collect();
    offered.sort();
    assert_eq!(offered, ["release", "report", "run"]);
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = gauntlet(&["completions", shell], &dir);
        assert_eq!(out.code(), Some(0));
        assert!(stdout(&out).contains("attack"), "{shell}: the attack command is missing");
    }
}

#[test]
fn the_man_page_names_every_command_and_man_renders_it() {
    let dir = scratch("shell-man");
    let out = gauntlet(&["man"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let roff = stdout(&out);
    assert!(roff.starts_with(".ie") || roff.contains(".TH gauntlet 1"), "{}", &roff[..200.min(roff.len())]);
    for command in ["run", "check", "attack", "load", "release", "calibrate", "completions"] {
        assert!(roff.contains(&format!("gauntlet\\-{command}")) || roff.contains(command), "{command}");
    }
    write(&dir.join("gauntlet.1"), &roff);
    // Rendered by man where it is installed (CI installs man-db).
    if let Ok(rendered) =
        std::process::Command::new("man").arg("-l").arg(dir.join("gauntlet.1")).env("MANWIDTH", "80").output()
    {
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(rendered.status.success() && text.contains("SUBCOMMANDS") && text.contains("attack"), "{text}");
    }
}
