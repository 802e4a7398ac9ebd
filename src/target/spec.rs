//! The `[target]` table of gauntlet.toml and the factory that turns it into
//! a [`Target`]. It lives with the targets (not in `config`) so that every
//! target kind's keys, checks and construction sit in one place, and so the
//! engine never imports the config layer above it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::builtin::{Firewall, Overrides};
use super::exec::{ExecConfig, ExecTarget};
use super::http::{check_template, expand_env, HttpConfig, HttpTarget};
use super::tenants::TenantRouter;
use super::Target;
use crate::corpus::Decision;
use crate::errors::{Code, Diagnostic, Error};

/// The file a [`TargetSpec`] was read from, for locating problems.
pub struct SpecFile<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    /// The folder relative paths (rules, the exec working directory) resolve against.
    pub base: &'a Path,
}

/// One table for every target kind; fields that do not belong to the chosen
/// kind are reported rather than ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TargetSpec {
    pub kind: String,
    // builtin
    pub rules: Option<String>,
    pub threshold: Option<f64>,
    pub approval_threshold: Option<f64>,
    /// The system prompt (text) whose leakage egress detection looks for.
    pub system_prompt: Option<String>,
    // exec
    pub command: Option<Vec<String>>,
    pub workers: Option<usize>,
    pub window: Option<usize>,
    pub max_restarts: Option<u32>,
    pub hello: Option<bool>,
    /// How long a fresh process may take to give its first answer.
    pub startup_ms: Option<u64>,
    /// How long a process may write nothing, cases in flight, before it is hung.
    pub hang_ms: Option<u64>,
    // http
    pub url: Option<String>,
    pub body: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub decision: Option<String>,
    pub decision_map: Option<BTreeMap<String, String>>,
    pub score: Option<String>,
    pub reasons: Option<String>,
    pub concurrency: Option<usize>,
    pub retries: Option<u32>,
    /// A PEM bundle trusted instead of the system's store.
    pub ca_file: Option<String>,
    /// Plain http:// to a host that is not loopback, on purpose.
    pub allow_http: Option<bool>,
    // exec and http
    pub timeout_ms: Option<u64>,
    // every kind
    /// Tenants: the corpora run once per tenant (`[[target.tenant]]`).
    pub tenant: Option<Vec<TenantSpec>>,
    /// Whether a request without a tenant may be served (default true).
    pub anonymous: Option<bool>,
    /// Send one untimed request before the replay (default true).
    pub health_probe: Option<bool>,
    /// Abort (exit 3) when at least this share of cases ends in target
    /// errors (default 0.5)...
    pub abort_error_share: Option<f64>,
    /// ...once at least this many cases were replayed (default 50).
    pub abort_min_cases: Option<u64>,
}

/// One tenant; for the built-in target it may override the threshold and
/// the system prompt.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TenantSpec {
    pub id: String,
    pub threshold: Option<f64>,
    pub system_prompt: Option<String>,
}

impl TargetSpec {
    pub(crate) fn present_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        macro_rules! check {
            ($($field:ident => $key:literal),*) => { $(if self.$field.is_some() { keys.push($key); })* };
        }
        check!(
            rules => "rules", threshold => "threshold", approval_threshold => "approval-threshold",
            system_prompt => "system-prompt",
            command => "command", workers => "workers", window => "window", max_restarts => "max-restarts",
            hello => "hello", startup_ms => "startup-ms", hang_ms => "hang-ms", url => "url", body => "body", headers => "headers", decision => "decision",
            decision_map => "decision-map", score => "score", reasons => "reasons",
            concurrency => "concurrency", retries => "retries", timeout_ms => "timeout-ms",
            ca_file => "ca-file", allow_http => "allow-http"
        );
        keys
    }
}

impl TargetSpec {
    /// The built-in firewall this table describes; a tenant may override the
    /// threshold and the system prompt.
    pub fn firewall(
        &self,
        base: &Path,
        threshold: Option<f64>,
        system_prompt: Option<String>,
    ) -> Result<Firewall, Error> {
        let overrides = Overrides {
            block_threshold: threshold.or(self.threshold),
            approval_threshold: self.approval_threshold,
            system_prompt: system_prompt.or_else(|| self.system_prompt.clone()),
        };
        match &self.rules {
            Some(rules) => Firewall::from_file(&base.join(rules), overrides),
            None => Firewall::embedded(overrides),
        }
    }
}

/// The host of a plain `http://` URL (without port or brackets).
fn plain_http_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    Some(match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Builds the target a `[target]` table names: the one place any target,
/// the built-in firewall included, is constructed from configuration.
pub fn from_config(t: &TargetSpec, file: &SpecFile) -> Result<Box<dyn Target>, Error> {
    match t.kind.as_str() {
        "builtin" => {
            let firewall =
                |threshold: Option<f64>, system_prompt: Option<String>| t.firewall(file.base, threshold, system_prompt);
            match &t.tenant {
                Some(tenants) if !tenants.is_empty() => {
                    let routed = tenants
                        .iter()
                        .map(|tn| Ok((tn.id.clone(), firewall(tn.threshold, tn.system_prompt.clone())?)))
                        .collect::<Result<Vec<_>, Error>>()?;
                    let anonymous = if t.anonymous.unwrap_or(true) { Some(firewall(None, None)?) } else { None };
                    Ok(Box::new(TenantRouter::new(routed, anonymous)))
                }
                _ => Ok(Box::new(firewall(None, None)?)),
            }
        }
        "exec" => {
            let command = t.command.clone().unwrap_or_default();
            Ok(Box::new(ExecTarget::new(ExecConfig {
                command,
                workers: t.workers.unwrap_or(1),
                window: t.window.unwrap_or(64),
                timeout: Duration::from_millis(t.timeout_ms.unwrap_or(2000)),
                max_restarts: t.max_restarts.unwrap_or(3),
                hello: t.hello.unwrap_or(false),
                startup: t.startup_ms.map(Duration::from_millis).unwrap_or(super::exec::DEFAULT_STARTUP),
                hang: t
                    .hang_ms
                    .map(Duration::from_millis)
                    .unwrap_or_else(|| super::exec::default_hang(Duration::from_millis(t.timeout_ms.unwrap_or(2000)))),
                dir: file.base.to_path_buf(),
            })))
        }
        "http" => {
            let mut problems = Vec::new();
            let here = |key: &str, code: crate::errors::Code, msg: String| {
                Diagnostic::new(file.path, code, msg).near(file.text, key)
            };
            if let Some(body) = &t.body {
                if let Err(e) = check_template(body) {
                    problems.push(here("body", Code::InvalidTemplate, e));
                }
            }
            let mut headers = Vec::new();
            for (k, v) in t.headers.iter().flatten() {
                match expand_env(v) {
                    Ok(value) => headers.push((k.clone(), value)),
                    Err(e) => problems.push(here("headers", Code::MissingEnv, format!("header `{k}`: {e}"))),
                }
            }
            let mut decision_map = BTreeMap::new();
            for (k, v) in t.decision_map.iter().flatten() {
                match Decision::parse(v) {
                    Some(d) => {
                        decision_map.insert(k.clone(), d);
                    }
                    None => problems.push(here(
                        "decision-map",
                        Code::InvalidDecision,
                        format!("decision-map `{k}` = `{v}` is not allow, block or require_approval"),
                    )),
                }
            }
            let pointer = |key: &str, value: &Option<String>, default: &str, problems: &mut Vec<Diagnostic>| {
                let p = value.clone().unwrap_or_else(|| default.to_string());
                if !p.is_empty() && !p.starts_with('/') {
                    problems.push(here(
                        key,
                        Code::InvalidPointer,
                        format!("`{key}` = `{p}` is not a JSON pointer (it starts with /)"),
                    ));
                }
                p
            };
            let url = t.url.clone().unwrap_or_default();
            if let Some(host) = plain_http_host(&url) {
                if !is_loopback(host) && !t.allow_http.unwrap_or(false) {
                    problems.push(here(
                        "url",
                        Code::InsecureUrl,
                        format!("`{url}` would send every case unencrypted to {host}: use https://, or set allow-http = true"),
                    ));
                }
            }
            let ca_certs = match &t.ca_file {
                Some(f) => match super::http::read_ca_file(&file.base.join(f)) {
                    Ok(certs) => Some(certs),
                    Err(e) => {
                        problems.push(here("ca-file", Code::UnreadableCaFile, e));
                        None
                    }
                },
                None => None,
            };
            let decision = pointer("decision", &t.decision, "/decision", &mut problems);
            let score = pointer("score", &t.score, "/score", &mut problems);
            let reasons = pointer("reasons", &t.reasons, "/reasons", &mut problems);
            if !problems.is_empty() {
                return Err(Error::Input(problems));
            }
            Ok(Box::new(HttpTarget::new(HttpConfig {
                url,
                ca_certs,
                body: t.body.clone(),
                headers,
                decision,
                decision_map,
                score,
                reasons,
                concurrency: t.concurrency.unwrap_or(16),
                timeout: Duration::from_millis(t.timeout_ms.unwrap_or(2000)),
                retries: t.retries.unwrap_or(3),
            })))
        }
        other => {
            Err(Diagnostic::new(file.path, Code::UnsupportedTarget, format!("target kind `{other}` is not available"))
                .near(file.text, "kind")
                .into())
        }
    }
}
