//! The reports as a person and a CI system see them: the dashboard in
//! headless Chromium (Debian's `chromium`), junit.xml through `xmllint`
//! against docs/schema/junit.xsd, the Prometheus rules through `promtool`. Without the tool, the trial is ignored
//! and says why; it is never reported as passed.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};

#[path = "tools/promtool.rs"]
mod promtool;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(tool)).find(|p| p.is_file())
}

/// Runs a gauntlet project into a fresh folder and returns that folder.
fn render(name: &str, config: &Path) -> Result<PathBuf, Failed> {
    let out = root().join("target/test-scratch/reports-in-tools").join(name);
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["run", "--quiet", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .status()
        .map_err(|e| e.to_string())?;
    if status.code().unwrap_or(9) >= 2 {
        return Err(format!("gauntlet run failed: {status}").into());
    }
    Ok(out)
}

fn chromium(browser: &Path, profile: &Path, extra: &[&str], page: &Path) -> Result<(String, String), Failed> {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| format!("cannot run chromium: {e}"))?;
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned()))
}

fn check_dashboard(browser: &Path, name: &str, config: &Path, hostile: bool) -> Result<(), Failed> {
    let dir = render(name, config)?;
    let page = dir.join("dashboard.html");
    let profile = dir.join("chromium-profile");
    let (dom, log) = chromium(browser, &profile, &["--dump-dom"], &page)?;
    let console: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Refused to")
                || l.contains("Content Security Policy")
                || l.contains("Uncaught")
        })
        .collect();
    if !console.is_empty() {
        return Err(format!("console errors or blocked loads:\n{}", console.join("\n")).into());
    }
    for needle in [
        "id=\"verdict-banner\"",
        "id=\"gates\"",
        "class=\"chart\"",
        "id=\"latency\"",
        "id=\"failing\"",
        "id=\"waivers\"",
        "id=\"confusion\"",
    ] {
        if !dom.contains(needle) {
            return Err(format!("the rendered page lacks {needle}").into());
        }
    }
    let title = dom.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or("");
    if !title.starts_with("gauntlet") || title.contains("PWNED") {
        return Err(format!("page title changed by case text: {title:?}").into());
    }
    if dom.matches("<script").count() != 1 {
        return Err("a script element other than the page's own is in the DOM".into());
    }
    for injected in ["<img", "<iframe", "<h1>INJECTED", "<style>body", "<link", "<svg onload"] {
        if dom.contains(injected) {
            return Err(format!("case text became markup: found {injected}").into());
        }
    }
    // An attribute inside a real tag (text shows `&lt;`, so it cannot match).
    let loading = regex::Regex::new(r#"<[a-zA-Z][^<>]*\s(href|src|on[a-z]+)\s*="#).unwrap();
    if let Some(m) = loading.find(&dom) {
        return Err(format!("a tag with a link or handler is in the DOM: {}", m.as_str()).into());
    }
    if hostile {
        for literal in [
            "&lt;script&gt;document.title='PWNED'",
            "&lt;/textarea&gt;",
            "{{ 7*7 }}",
            "{% for x in range(10) %}",
            "javascript:alert",
            "⟨U+202E⟩",
            "⟨U+200B⟩",
            "show all",
        ] {
            if !dom.contains(literal) {
                return Err(format!("hostile text is not displayed literally: {literal}").into());
            }
        }
    }
    let shot = root().join("target/test-scratch/reports-in-tools").join(format!("{name}.png"));
    chromium(browser, &profile, &["--window-size=1280,2600", &format!("--screenshot={}", shot.display())], &page)?;
    if std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0) < 10_000 {
        return Err("no screenshot was taken".into());
    }
    Ok(())
}

fn check_junit(xmllint: &Path) -> Result<(), Failed> {
    for (name, config) in [
        ("junit-bundled", root().join("gauntlet.toml")),
        ("junit-hostile", root().join("tests/data/hostile/gauntlet.toml")),
    ] {
        let dir = render(name, &config)?;
        let out = Command::new(xmllint)
            .args(["--noout", "--schema"])
            .arg(root().join("docs/schema/junit.xsd"))
            .arg(dir.join("junit.xml"))
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(
                format!("{name}: junit.xml does not validate:\n{}", String::from_utf8_lossy(&out.stderr)).into()
            );
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let browser = std::env::var_os("GAUNTLET_CHROMIUM").map(PathBuf::from).or_else(|| which("chromium"));
    let xmllint = which("xmllint");
    let promtool_bin = which("promtool");
    let with_tool = |trial: Trial, tool: &Option<PathBuf>, what: &str| match tool {
        Some(_) => trial,
        None => trial.with_ignored_flag(true).with_kind(format!("needs {what}, not installed")),
    };
    let b1 = browser.clone();
    let b2 = browser.clone();
    let x = xmllint.clone();
    let p = promtool_bin.clone();
    let trials = vec![
        with_tool(
            Trial::test("dashboard_bundled_in_chromium", move || {
                check_dashboard(b1.as_deref().unwrap(), "bundled", &root().join("gauntlet.toml"), false)
            }),
            &browser,
            "chromium",
        ),
        with_tool(
            Trial::test("dashboard_hostile_cases_stay_inert_in_chromium", move || {
                check_dashboard(
                    b2.as_deref().unwrap(),
                    "hostile",
                    &root().join("tests/data/hostile/gauntlet.toml"),
                    true,
                )
            }),
            &browser,
            "chromium",
        ),
        with_tool(
            Trial::test("junit_validates_against_xsd", move || check_junit(x.as_deref().unwrap())),
            &xmllint,
            "xmllint",
        ),
        with_tool(
            Trial::test("prometheus_rules_agree_with_gauntlet_release_in_promtool", move || {
                promtool::check(p.as_deref().unwrap())
            }),
            &promtool_bin,
            "promtool (Debian's prometheus package)",
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}
