//! Datasets fetched from the web: `[fetch]` in corpus.toml names the URL
//! (pinned to an immutable revision) and, optionally, the file's SHA-256.
//!
//! Why a lock file: most public datasets publish no checksum, so the first
//! fetch records the hash it saw in `corpus.lock` beside the manifest
//! (trust on first use, like an SSH host key). Committed, the lock makes
//! every later fetch and every run refuse a file that changed, on any
//! machine: a dataset that moved under a pinned URL, a mirror serving
//! something else, a cache edited by hand. A `sha256` in the manifest is
//! stronger still (no first use to trust) and must agree with the lock.
//!
//! Runs never download: they read the cache (`.gauntlet/datasets/` beside
//! the config, or `GAUNTLET_CACHE_DIR`), so they work offline and say which
//! file is missing. `GAUNTLET_FETCH_MIRROR` serves every download from a
//! mirror (`<mirror>/<host>/<path>`), for air-gapped machines and tests.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::errors::{toml_diagnostic, Code, Diagnostic, Error};
use crate::progress::Progress;
use crate::toml_spans::TomlSpans;

pub const LOCK_NAME: &str = "corpus.lock";

/// `[fetch]` in corpus.toml.
#[derive(Debug, Clone, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FetchSpec {
    /// Where the data file is downloaded from (https; Hugging Face and GitHub pinned to a revision).
    pub url: String,
    /// Hex SHA-256 of the file; without it the first fetch locks the hash.
    pub sha256: Option<String>,
}

impl FetchSpec {
    /// Problems with the table itself, at their lines in `text`.
    pub fn check(&self, manifest: &Path, spans: &TomlSpans) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let url = |d: Diagnostic| d.at_key(spans, &["fetch", "url"]);
        if let Err(why) = check_url(&self.url, false) {
            problems.push(url(Diagnostic::new(manifest, Code::InvalidFetch, why)));
        } else {
            match self.file_name() {
                None => problems.push(url(Diagnostic::new(
                    manifest,
                    Code::InvalidFetch,
                    "the url names no file (its path ends with `/`)",
                ))),
                Some(name) if !super::load::is_data_file(Path::new(&name)) => problems.push(url(Diagnostic::new(
                    manifest,
                    Code::InvalidFetch,
                    format!("`{name}` is not a .csv, .jsonl or .parquet file"),
                ))),
                Some(_) => {}
            }
        }
        if let Some(hash) = &self.sha256 {
            if !is_sha256(hash) {
                problems.push(
                    Diagnostic::new(manifest, Code::InvalidFetch, "`sha256` is not 64 hexadecimal digits")
                        .at_key(spans, &["fetch", "sha256"]),
                );
            }
        }
        problems
    }

    /// The file's name: the URL path's last segment, without a query.
    pub fn file_name(&self) -> Option<String> {
        let path = self.url.split(['?', '#']).next()?.split_once("://")?.1;
        let name = path.rsplit('/').next()?;
        (!name.is_empty() && path.contains('/')).then(|| name.to_string())
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// https anywhere; plain http only to loopback (a local server) or, with
/// `mirror`, to the mirror the user named.
fn check_url(url: &str, mirror: bool) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("`{url}` is not an absolute URL"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    let loopback = name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match scheme {
        "https" => Ok(()),
        "http" if loopback || mirror => Ok(()),
        "http" => Err(format!("`{url}`: plain http:// is refused except to loopback (use https://, or a mirror)")),
        other => Err(format!("`{url}`: scheme `{other}` is not https")),
    }
}

/// `corpus.lock`: the hash the dataset was first fetched with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Lock {
    pub url: String,
    pub sha256: String,
}

impl Lock {
    pub fn path(manifest: &Path) -> PathBuf {
        manifest.with_file_name(LOCK_NAME)
    }

    /// The lock beside `manifest`, if there is one.
    pub fn read(manifest: &Path) -> Result<Option<Lock>, Diagnostic> {
        let path = Lock::path(manifest);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Diagnostic::new(&path, Code::InvalidLock, e.to_string())),
        };
        let lock: Lock = toml::from_str(&text).map_err(|e| {
            let mut d = toml_diagnostic(&path, &text, &e);
            d.code = Code::InvalidLock;
            d
        })?;
        if !is_sha256(&lock.sha256) {
            return Err(Diagnostic::new(&path, Code::InvalidLock, "`sha256` is not 64 hexadecimal digits")
                .at_key(&TomlSpans::parse(&text), &["sha256"]));
        }
        Ok(Some(lock))
    }

    fn write(&self, manifest: &Path) -> Result<(), Error> {
        let text = format!(
            "# Written by `gauntlet corpus fetch` on the first fetch (trust on first use).\n\
             # Commit it: a later fetch or run refuses a file whose SHA-256 differs.\n{}",
            toml::to_string(self).expect("lock serialises")
        );
        crate::atomic_file::write_bytes(&Lock::path(manifest), text.as_bytes())
    }
}

/// The hash a fetched file must have (manifest, then lock), after checking
/// that the two agree and that the lock is for this URL. `None`: not yet
/// locked (the first fetch will lock it).
pub fn expected_hash(manifest: &Path, spec: &FetchSpec) -> Result<Option<String>, Diagnostic> {
    let lock = Lock::read(manifest)?;
    if let Some(lock) = &lock {
        if lock.url != spec.url {
            return Err(Diagnostic::new(
                &Lock::path(manifest),
                Code::InvalidLock,
                format!(
                    "the lock is for {} but [fetch] url is {}; delete {LOCK_NAME} to trust the new URL's file",
                    lock.url, spec.url
                ),
            ));
        }
    }
    match (&spec.sha256, lock) {
        (Some(pinned), Some(lock)) if !pinned.eq_ignore_ascii_case(&lock.sha256) => Err(Diagnostic::new(
            manifest,
            Code::HashMismatch,
            format!("[fetch] sha256 is {pinned} but {LOCK_NAME} records {}", lock.sha256),
        )),
        (Some(pinned), _) => Ok(Some(pinned.to_ascii_lowercase())),
        (None, lock) => Ok(lock.map(|l| l.sha256)),
    }
}

/// Where fetched files are kept: `GAUNTLET_CACHE_DIR`, else
/// `.gauntlet/datasets` beside the config.
pub fn cache_root(base: &Path) -> PathBuf {
    match std::env::var_os("GAUNTLET_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => base.join(".gauntlet").join("datasets"),
    }
}

/// The cached copy of a dataset's file: `<cache>/<dataset>/<file name>`.
pub fn cached_file(base: &Path, dataset: &str, spec: &FetchSpec) -> PathBuf {
    let folder: String =
        dataset.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    cache_root(base).join(folder).join(spec.file_name().unwrap_or_else(|| "data".into()))
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::hashing::hex(&hasher.finalize()))
}

/// A cached file checked against its manifest and lock before a run reads
/// it; returns its hash.
pub fn verify_cached(base: &Path, manifest: &Path, dataset: &str, spec: &FetchSpec) -> Result<String, Diagnostic> {
    let cached = cached_file(base, dataset, spec);
    // The lock first: a broken one is a fault in the repository, which
    // `check` must report, and fetching would not mend it.
    let expected = expected_hash(manifest, spec)?;
    if !cached.is_file() {
        return Err(Diagnostic::new(
            manifest,
            Code::DatasetNotFetched,
            format!("{} is not in the cache ({}): run `gauntlet corpus fetch`", spec.url, cached.display()),
        ));
    }
    let Some(expected) = expected else {
        return Err(Diagnostic::new(
            manifest,
            Code::DatasetNotFetched,
            format!("{} has no {LOCK_NAME} and no sha256: run `gauntlet corpus fetch` to verify and lock it", spec.url),
        ));
    };
    let actual = sha256_file(&cached).map_err(|e| Diagnostic::new(&cached, Code::UnreadableFile, e.to_string()))?;
    if actual != expected {
        return Err(mismatch(manifest, &cached, &expected, &actual));
    }
    Ok(actual)
}

fn mismatch(manifest: &Path, file: &Path, expected: &str, actual: &str) -> Diagnostic {
    Diagnostic::new(
        manifest,
        Code::HashMismatch,
        format!("{} has SHA-256 {actual}, but {expected} is expected (manifest or {LOCK_NAME})", file.display()),
    )
}

/// What `fetch` did for one dataset.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// The cache already held the expected file.
    UpToDate { sha256: String },
    /// Downloaded and matching the manifest or lock.
    Verified { sha256: String, bytes: u64 },
    /// Downloaded for the first time: its hash is now in the lock.
    Locked { sha256: String, bytes: u64 },
}

/// Where a download goes: the URL itself, or its place on the mirror.
fn source_url(url: &str) -> Result<(String, bool), String> {
    match std::env::var("GAUNTLET_FETCH_MIRROR") {
        Ok(mirror) if !mirror.is_empty() => {
            check_url(&mirror, true)?;
            let rest = url.split_once("://").map_or(url, |(_, r)| r);
            Ok((format!("{}/{rest}", mirror.trim_end_matches('/')), true))
        }
        _ => {
            check_url(url, false)?;
            Ok((url.to_string(), false))
        }
    }
}

/// Downloads one dataset into the cache (resuming a partial download),
/// verifies it, and locks its hash on first use.
pub fn fetch(
    base: &Path,
    manifest: &Path,
    dataset: &str,
    spec: &FetchSpec,
    progress: &dyn Progress,
) -> Result<Fetched, Error> {
    let expected = expected_hash(manifest, spec)?;
    let cached = cached_file(base, dataset, spec);
    if let (Some(expected), true) = (&expected, cached.is_file()) {
        if sha256_file(&cached).map_err(|e| Error::io(&cached, e))? == *expected {
            return Ok(Fetched::UpToDate { sha256: expected.clone() });
        }
    }
    let (from, mirrored) =
        source_url(&spec.url).map_err(|why| Error::from(Diagnostic::new(manifest, Code::InvalidFetch, why)))?;
    let dir = cached.parent().expect("cache file has a folder");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let partial = cached.with_extension(format!("{}.part", cached.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let bytes = download(&from, &partial, mirrored, progress)?;
    let actual = sha256_file(&partial).map_err(|e| Error::io(&partial, e))?;
    if let Some(expected) = &expected {
        if actual != *expected {
            // Not kept: a resume must not build on bytes that are wrong.
            let _ = std::fs::remove_file(&partial);
            return Err(mismatch(manifest, Path::new(&from), expected, &actual).into());
        }
    }
    std::fs::rename(&partial, &cached).map_err(|e| Error::io(&cached, e))?;
    match expected {
        Some(_) => Ok(Fetched::Verified { sha256: actual, bytes }),
        None => {
            Lock { url: spec.url.clone(), sha256: actual.clone() }.write(manifest)?;
            Ok(Fetched::Locked { sha256: actual, bytes })
        }
    }
}

/// GET `url` into `partial`, continuing from its current length with a
/// Range request (a server that ignores it sends the whole file again).
fn download(url: &str, partial: &Path, mirrored: bool, progress: &dyn Progress) -> Result<u64, Error> {
    let failed = |why: String| Error::Fetch(format!("{url}: {why}"));
    let have = std::fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build())
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("range", format!("bytes={have}-"));
    }
    // A gated Hugging Face dataset: the token goes to Hugging Face only,
    // never to a mirror, and is never written anywhere.
    let hugging_face = url.split_once("://").is_some_and(|(_, r)| {
        let host = r.split('/').next().unwrap_or("");
        host == "huggingface.co" || host.ends_with(".huggingface.co")
    });
    if let (false, true, Ok(token)) = (mirrored, hugging_face, std::env::var("HF_TOKEN")) {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().map_err(|e| failed(e.to_string()))?;
    let status = response.status().as_u16();
    let append = match status {
        206 => true,
        200 => false,
        // The partial file is already whole.
        416 if have > 0 => return Ok(have),
        401 | 403 if hugging_face => {
            return Err(failed(format!("http {status}: a gated dataset needs HF_TOKEN with access to it")))
        }
        _ => return Err(failed(format!("http {status}"))),
    };
    let length =
        response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let start = if append { have } else { 0 };
    progress.set_total(start + length.unwrap_or(0));
    progress.advance(start);
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(partial)
        .map_err(|e| Error::io(partial, e))?;
    let mut body = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                let _ = out.flush();
                return Err(failed(format!(
                    "download cut off after {} bytes{} ({e}); run `gauntlet corpus fetch` again to resume",
                    start + got,
                    length.map(|l| format!(" of {}", start + l)).unwrap_or_default()
                )));
            }
        };
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(|e| Error::io(partial, e))?;
        got += n as u64;
        progress.advance(n as u64);
    }
    out.flush().map_err(|e| Error::io(partial, e))?;
    if let Some(length) = length {
        if got < length {
            return Err(failed(format!(
                "download cut off after {} of {} bytes; run `gauntlet corpus fetch` again to resume",
                start + got,
                start + length
            )));
        }
    }
    Ok(start + got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_except_loopback_and_a_named_mirror() {
        assert!(check_url("https://huggingface.co/d/x.parquet", false).is_ok());
        assert!(check_url("http://127.0.0.1:9/x.csv", false).is_ok());
        assert!(check_url("http://[::1]:9/x.csv", false).is_ok());
        assert!(check_url("http://localhost/x.csv", false).is_ok());
        assert!(check_url("http://example.com/x.csv", false).unwrap_err().contains("plain http"));
        assert!(check_url("http://mirror.internal/", true).is_ok());
        assert!(check_url("ftp://example.com/x.csv", false).is_err());
        assert!(check_url("x.csv", false).is_err());
    }

    #[test]
    fn the_file_name_is_the_last_path_segment() {
        let spec = |url: &str| FetchSpec { url: url.into(), sha256: None };
        assert_eq!(spec("https://h/a/b/x.csv?download=true").file_name().as_deref(), Some("x.csv"));
        assert_eq!(spec("https://h/a/").file_name(), None);
        assert_eq!(spec("https://h").file_name(), None);
    }
}
