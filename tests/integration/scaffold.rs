//! `gauntlet init --target ...` scaffolds that run at once, and the install
//! script their workflows use, tried against a release served on loopback.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

use crate::helpers::*;

fn init(name: &str, kind: &str) -> PathBuf {
    let dir = scratch(name);
    let out = gauntlet(&["init", dir.to_str().unwrap(), "--target", kind], &repo_root());
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    dir
}

/// The exec scaffold's Python adapter speaks the protocol: check, then run,
/// pass with no edit. (Preflight: the full lane adds a latency gate, a
/// timing of this busy machine.)
#[test]
fn init_exec_scaffold_checks_and_passes() {
    let dir = init("scaffold-exec", "exec");
    assert!(dir.join("adapter/gate_adapter.py").exists());
    let check = gauntlet(&["check"], &dir);
    assert_eq!(check.code(), Some(0), "{}", stderr(&check));
    let out = gauntlet(&["run", "--quiet", "--lane", "preflight"], &dir);
    assert_eq!(out.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let v = read_json(&dir.join("reports/verdict.json"));
    assert_eq!(v["run"]["target"]["kind"], "exec");
    assert_eq!(v["metrics"]["overall"]["error-rate"]["numerator"], 0);
}

/// The http scaffold passes against the stand-in server it documents.
#[test]
fn init_http_scaffold_passes_against_the_stand_in() {
    let dir = init("scaffold-http", "http");
    let prompt = std::fs::read_to_string(dir.join("system-prompt.txt")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gauntlet"));
    cmd.args(["target", "serve", "--http", "127.0.0.1:0", "--system-prompt", prompt.trim()]);
    let server = crate::targets::start(cmd);
    let config = std::fs::read_to_string(dir.join("gauntlet.toml")).unwrap();
    assert!(config.contains("http://127.0.0.1:8787/v1/gate"));
    write(&dir.join("gauntlet.toml"), &config.replace("http://127.0.0.1:8787", &server.url));
    let out = gauntlet(&["run", "--quiet", "--lane", "preflight"], &dir);
    assert_eq!(out.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
}

/// A folder served over HTTP on 127.0.0.1 (GET only; 404 for what is not
/// there), one request per connection. Lives as long as the test.
fn serve_folder(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            let file = root.join(&path);
            let mut stream = stream;
            let (status, body) = match std::fs::read(&file) {
                Ok(bytes) if !path.contains("..") => ("200 OK", bytes),
                _ => ("404 Not Found", b"not found".to_vec()),
            };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(&body);
        }
    });
    url
}

fn install(args: &[&str], base_url: &str, dir: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(repo_root().join(".github/install-gauntlet.sh"))
        .args(args)
        .args(["--base-url", base_url, "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap()
}

/// A fake release of `version`: an archive holding a `gauntlet` that
/// prints its version, and SHA256SUMS (with a wrong hash when `tamper`).
fn fake_release(root: &Path, version: &str, triple: &str, tamper: bool) {
    let pkg = root.join(format!("pkg-{version}"));
    std::fs::create_dir_all(&pkg).unwrap();
    write(&pkg.join("gauntlet"), &format!("#!/bin/sh\necho \"gauntlet {version}\"\n"));
    Command::new("chmod").args(["+x", pkg.join("gauntlet").to_str().unwrap()]).status().unwrap();
    let release = root.join(format!("v{version}"));
    std::fs::create_dir_all(&release).unwrap();
    let asset = format!("gauntlet-{version}-{triple}.tar.gz");
    let status = Command::new("tar")
        .args(["-czf", release.join(&asset).to_str().unwrap(), "-C", pkg.to_str().unwrap(), "."])
        .status()
        .unwrap();
    assert!(status.success());
    let mut hash = hex(&sha2::Sha256::digest(std::fs::read(release.join(&asset)).unwrap()));
    if tamper {
        hash = hash.replace(&hash[..4], "0000");
    }
    write(&release.join("SHA256SUMS"), &format!("{hash}  {asset}\n"));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The install script against a loopback release: a good archive installs
/// and is then cached; a bad checksum, a 404 and a pinned hash that differs
/// all fail and install nothing.
#[test]
fn install_script_verifies_what_it_downloads() {
    let triple = Command::new("bash")
        .arg(repo_root().join(".github/install-gauntlet.sh"))
        .arg("--print-target")
        .output()
        .unwrap();
    assert!(triple.status.success(), "{}", String::from_utf8_lossy(&triple.stderr));
    let triple = String::from_utf8(triple.stdout).unwrap().trim().to_string();
    let root = scratch("install-release");
    fake_release(&root.join("site"), "9.9.9", &triple, false);
    fake_release(&root.join("site"), "9.9.8", &triple, true);
    let url = serve_folder(root.join("site"));

    let bin = root.join("bin");
    let good = install(&["--version", "9.9.9"], &url, &bin);
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    let ran = Command::new(bin.join("gauntlet")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "gauntlet 9.9.9");
    // Cached: the release may be gone.
    std::fs::remove_dir_all(root.join("site/v9.9.9")).unwrap();
    let cached = install(&["--version", "v9.9.9"], &url, &bin);
    assert!(cached.status.success(), "{}", String::from_utf8_lossy(&cached.stderr));
    assert!(String::from_utf8_lossy(&cached.stdout).contains("already in"));

    for (args, said) in
        [(vec!["--version", "9.9.8"], "checksum mismatch"), (vec!["--version", "9.9.7"], "download failed")]
    {
        let fresh = root.join(format!("bin-{}", args[1]));
        let out = install(&args, &url, &fresh);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(said), "{args:?}: {err}");
        assert!(!fresh.join("gauntlet").exists(), "{args:?} installed something");
    }
    fake_release(&root.join("site"), "9.9.6", &triple, false);
    let pinned = root.join("bin-pinned");
    let out = install(&["--version", "9.9.6", "--sha256", &"ab".repeat(32)], &url, &pinned);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--sha256 pins"));
    assert!(!pinned.join("gauntlet").exists());
}

/// The triples and asset names the install script expects are exactly what
/// the release workflow builds and publishes.
#[test]
fn install_script_and_release_workflow_agree_on_asset_names() {
    let script = std::fs::read_to_string(repo_root().join(".github/install-gauntlet.sh")).unwrap();
    let workflow = std::fs::read_to_string(repo_root().join(".github/workflows/release.yml")).unwrap();
    let mut built: Vec<(String, String)> = Vec::new();
    let mut target = None;
    for line in workflow.lines().map(str::trim) {
        if let Some(t) = line.strip_prefix("- target: ") {
            target = Some(t.to_string());
        } else if let Some(ext) = line.strip_prefix("ext: ") {
            built.push((target.take().expect("ext follows its target"), ext.to_string()));
        }
    }
    assert_eq!(built.len(), 4, "{built:?}");
    let mut expected: Vec<String> = script
        .lines()
        .filter_map(|l| l.split("echo \"").nth(1))
        .filter_map(|l| l.split('"').next())
        .filter(|t| t.contains("-unknown-") || t.contains("-apple-") || t.contains("-pc-"))
        .map(String::from)
        .collect();
    expected.sort();
    let mut names: Vec<String> = built.iter().map(|(t, _)| t.clone()).collect();
    names.sort();
    assert_eq!(names, expected, "release matrix vs install script");
    for (t, ext) in &built {
        assert_eq!(ext == "zip", t.contains("windows"), "{t}: {ext}");
    }
    assert!(script.contains("asset=\"gauntlet-${version}-${target}.${ext}\""));
    assert!(workflow.contains("asset=\"gauntlet-${version}-${TARGET}.${EXT}\""));
    assert!(
        workflow.contains("sha256sum gauntlet-* llm_gauntlet-*.whl > SHA256SUMS") && script.contains("$url/SHA256SUMS")
    );
}
