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
use super::http::{check_template, expand_env, expand_env_json, HttpConfig, HttpTarget};
use super::tenants::TenantRouter;
use super::Target;
use crate::corpus::Decision;
use crate::errors::{Code, Diagnostic, Error};

/// The file a [`TargetSpec`] was read from, for locating problems.
pub struct SpecFile<'a> {
    pub path: &'a Path,
    /// Where each key of the file is written.
    pub spans: &'a crate::toml_spans::TomlSpans,
    /// The folder relative paths (rules, the exec working directory) resolve against.
    pub base: &'a Path,
}

/// One table for every target kind; fields that do not belong to the chosen
/// kind are reported rather than ignored.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TargetSpec {
    /// `builtin`, `exec` or `http`.
    pub kind: String,
    // builtin
    /// Built-in: a rules file replacing the embedded one.
    pub rules: Option<String>,
    /// Built-in: the score at or above which a case is blocked.
    pub threshold: Option<f64>,
    /// Built-in: the score at or above which a case needs approval.
    pub approval_threshold: Option<f64>,
    /// The system prompt (text) whose leakage egress detection looks for.
    pub system_prompt: Option<String>,
    // exec
    /// Exec: the program and its arguments, run in the project folder.
    pub command: Option<Vec<String>>,
    /// Exec: processes run side by side.
    pub workers: Option<usize>,
    /// Exec: requests in flight per process.
    pub window: Option<usize>,
    /// Exec: restarts allowed after crashes before the run stops.
    pub max_restarts: Option<u32>,
    /// Exec: the process answers a hello line before the first case.
    pub hello: Option<bool>,
    /// How long a fresh process may take to give its first answer.
    pub startup_ms: Option<u64>,
    /// How long a process may write nothing, cases in flight, before it is hung.
    pub hang_ms: Option<u64>,
    // http
    /// Http: the endpoint cases are sent to.
    pub url: Option<String>,
    /// Http: the request body template (`{{ input }}`, `{{ chat }}`, `${ENV}`, ...).
    pub body: Option<String>,
    /// Http: request headers; values may use `${ENV}`.
    pub headers: Option<BTreeMap<String, String>>,
    /// Http: JSON pointer to the decision in the answer.
    pub decision: Option<String>,
    /// Http: the answer's decision values mapped to allow, block or require_approval.
    pub decision_map: Option<BTreeMap<String, String>>,
    /// Http: JSON pointer to the score (0 to 1).
    pub score: Option<String>,
    /// Http: JSON pointer to the reasons.
    pub reasons: Option<String>,
    /// Http: connections used at once.
    pub concurrency: Option<usize>,
    /// Http: retries of a 429, a 5xx or a dropped connection.
    pub retries: Option<u32>,
    /// Requests per second over all connections of an http target.
    pub rate_limit: Option<f64>,
    /// A hosted guard API's shapes (`openai-moderation`, ...): see `presets`.
    pub preset: Option<String>,
    /// The value at `decision` is text: a prefix or regex match blocks.
    pub decision_text: Option<RawTextRule>,
    /// Blocked when any of these pointers (`*` for each array element) is true.
    pub decision_any: Option<BTreeMap<String, String>>,
    /// The value at `score` is an object or array of scores: take the maximum.
    pub score_max: Option<bool>,
    /// The value at `reasons` is an object: its keys whose value is true or ≥ `reasons-threshold`.
    pub reasons_keys: Option<bool>,
    /// With `reasons-keys`: the least value that names a reason (default 0.5).
    pub reasons_threshold: Option<f64>,
    /// The value at `reasons` is an array of objects: `name` of each whose `when` is true.
    pub reasons_items: Option<RawItemsRule>,
    /// A PEM bundle trusted instead of the system's store.
    pub ca_file: Option<String>,
    /// Mutual TLS: the client's certificate chain and its private key (PEM).
    pub client_cert: Option<String>,
    /// Mutual TLS: the client's private key (PEM), with `client-cert`.
    pub client_key: Option<String>,
    /// Plain http:// to a host that is not loopback, on purpose.
    pub allow_http: Option<bool>,
    // exec and http
    /// Exec and http: how long one case may take.
    pub timeout_ms: Option<u64>,
    /// What one request costs (any unit), for `--dry-run` and `max-cost`.
    pub cost: Option<f64>,
    /// A run whose plan sends more requests than this stops before sending any.
    pub max_requests: Option<u64>,
    /// A run whose plan costs more than this stops before sending any.
    pub max_cost: Option<f64>,
    // every kind
    /// Tenants: the corpora run once per tenant (`[[target.tenant]]`).
    pub tenant: Option<Vec<TenantSpec>>,
    /// Whether a request without a tenant may be served (default true).
    pub anonymous: Option<bool>,
    /// Send one untimed request before the replay (default true).
    pub health_probe: Option<bool>,
    /// After the health probe, one case the gate must block and one it
    /// must allow (default on for presets, and for any target that sets
    /// `canary-block` or `canary-allow`); a wrong answer stops the run.
    pub canary: Option<bool>,
    /// The canary's must-block text.
    pub canary_block: Option<String>,
    /// The canary's must-allow text.
    pub canary_allow: Option<String>,
    /// Abort (exit 3) when at least this share of cases ends in target
    /// errors (default 0.5)...
    pub abort_error_share: Option<f64>,
    /// ...once at least this many cases were replayed (default 50).
    pub abort_min_cases: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawTextRule {
    /// Text starting with this blocks.
    pub prefix: Option<String>,
    /// Text matching this blocks.
    pub regex: Option<String>,
    /// The text that allows; set, any other text is a target error.
    pub allow_prefix: Option<String>,
    /// Texts that mean the service failed (regexes): target errors.
    pub errors: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawItemsRule {
    /// Pointer, within an item, to the reason's name.
    pub name: String,
    /// Pointer, within an item, to the flag that makes it a reason.
    pub when: String,
}

/// One tenant; for the built-in target it may override the threshold and
/// the system prompt.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TenantSpec {
    /// The tenant id, sent as `context.tenant`.
    pub id: String,
    /// Built-in: this tenant's block threshold.
    pub threshold: Option<f64>,
    /// Built-in: this tenant's system prompt for egress checks.
    pub system_prompt: Option<String>,
}

/// Every default of `[target]`, defined once: the factory below, the
/// request plan and `check` all read these.
impl TargetSpec {
    pub const DEFAULT_TIMEOUT_MS: u64 = 2000;
    /// http connections sending at once.
    pub const DEFAULT_CONCURRENCY: usize = 16;
    pub const DEFAULT_RETRIES: u32 = 3;
    /// exec processes.
    pub const DEFAULT_WORKERS: usize = 1;
    pub const DEFAULT_WINDOW: usize = 64;
    pub const DEFAULT_MAX_RESTARTS: u32 = 3;

    /// How long one case may take (exec and http).
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.unwrap_or(Self::DEFAULT_TIMEOUT_MS))
    }

    /// http connections sending at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency.unwrap_or(Self::DEFAULT_CONCURRENCY)
    }

    /// The canary's (must-block, must-allow) texts, when it is on.
    pub fn canary_texts(&self) -> Option<(String, String)> {
        let configured = self.canary_block.is_some() || self.canary_allow.is_some();
        let on = self.canary.unwrap_or(self.preset.is_some() || configured);
        if !on || !self.health_probe.unwrap_or(true) {
            return None;
        }
        let preset = self.preset.as_deref().and_then(super::presets::find);
        let block = self
            .canary_block
            .clone()
            .unwrap_or_else(|| preset.map_or(super::canary::MUST_BLOCK, |p| p.canary_block).to_string());
        let allow = self.canary_allow.clone().unwrap_or_else(|| super::canary::MUST_ALLOW.to_string());
        Some((block, allow))
    }

    /// Requests an exec target holds at once: its processes' windows.
    pub fn exec_slots(&self) -> usize {
        self.workers.unwrap_or(Self::DEFAULT_WORKERS) * self.window.unwrap_or(Self::DEFAULT_WINDOW)
    }

    /// The exec processes' settings, every default resolved.
    fn exec_config(&self, dir: &Path) -> ExecConfig {
        ExecConfig {
            command: self.command.clone().unwrap_or_default(),
            workers: self.workers.unwrap_or(Self::DEFAULT_WORKERS),
            window: self.window.unwrap_or(Self::DEFAULT_WINDOW),
            timeout: self.timeout(),
            max_restarts: self.max_restarts.unwrap_or(Self::DEFAULT_MAX_RESTARTS),
            hello: self.hello.unwrap_or(false),
            startup: self.startup_ms.map(Duration::from_millis).unwrap_or(super::exec::DEFAULT_STARTUP),
            hang: self.hang_ms.map(Duration::from_millis).unwrap_or_else(|| super::exec::default_hang(self.timeout())),
            dir: dir.to_path_buf(),
        }
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

/// The http target a `[target]` table describes: the preset's shapes
/// under whatever the table sets itself, every problem collected.
fn http_target(t: &TargetSpec, file: &SpecFile) -> Result<HttpTarget, Error> {
    use super::answer::{AnswerMapping, ItemsRule, TextRule};
    use super::presets::{self, DecisionRule, ReasonsRule};
    let mut problems = Vec::new();
    let here =
        |key: &str, code: Code, msg: String| Diagnostic::new(file.path, code, msg).at_key(file.spans, &["target", key]);
    let preset = match t.preset.as_deref() {
        Some(name) => match presets::find(name) {
            Some(p) => Some(p),
            None => {
                let known = presets::names().join(", ");
                return Err(here("preset", Code::UnknownPreset, format!("no preset `{name}` (known: {known})")).into());
            }
        },
        None => None,
    };
    let mut body = t.body.clone().or_else(|| preset.map(|p| p.body.to_string()));
    // A preset's optional field goes in when its variable is set.
    if let (None, Some((field, var)), Some(b)) = (&t.body, preset.and_then(|p| p.optional_field), body.as_mut()) {
        if let Ok(value) = std::env::var(var) {
            if let Some(rest) = b.strip_prefix('{') {
                *b = format!("{{{}: {}, {rest}", serde_json::json!(field), serde_json::json!(value));
            }
        }
    }
    let body = match body.as_deref().map(expand_env_json).transpose() {
        Ok(b) => b,
        Err(e) => {
            problems.push(here("body", Code::MissingEnv, format!("body: {e}")));
            None
        }
    };
    if let Some(body) = &body {
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
    // The preset's key header, from the provider's usual variable, unless
    // `headers` sets that header itself.
    if let Some(key) = preset.and_then(|p| p.key.as_ref()) {
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(key.header)) {
            match std::env::var(key.env) {
                Ok(value) => headers.push((key.header.to_string(), key.format.replace("{key}", &value))),
                Err(_) if key.required => problems.push(here(
                    "preset",
                    Code::MissingEnv,
                    format!(
                        "preset `{}` needs its key in the environment variable `{}` (or set `{}` in headers)",
                        preset.map_or("", |p| p.name),
                        key.env,
                        key.header
                    ),
                )),
                Err(_) => {}
            }
        }
    }
    let mut decision_map = BTreeMap::new();
    let mut mapped = |k: &str, v: &str, problems: &mut Vec<Diagnostic>| match Decision::parse(v) {
        Some(d) => {
            decision_map.insert(k.to_string(), d);
        }
        None => problems.push(here(
            "decision-map",
            Code::InvalidDecision,
            format!("decision-map `{k}` = `{v}` is not allow, block or require_approval"),
        )),
    };
    let mut answer = AnswerMapping::default();
    if let Some(p) = preset {
        match &p.decision {
            DecisionRule::Mapped(pointer, map) => {
                answer.decision = pointer.to_string();
                for (k, v) in map.iter() {
                    mapped(k, v, &mut problems);
                }
            }
            DecisionRule::TextPrefix { pointer, block, allow } => {
                answer.decision = pointer.to_string();
                answer.decision_text = Some(TextRule::Prefix(block.to_string()));
                answer.text_allow = Some(TextRule::Prefix(allow.to_string()));
            }
            DecisionRule::TextRegex { pointer, block, errors, rails_log } => {
                answer.decision = pointer.to_string();
                answer.rails_log = rails_log.map(str::to_string);
                answer.decision_text =
                    Some(TextRule::Regex(regex::Regex::new(block).expect("preset regexes are valid")));
                answer.text_errors =
                    errors.iter().map(|e| regex::Regex::new(e).expect("preset regexes are valid")).collect();
            }
            DecisionRule::Any(flags) => {
                answer.decision_any = flags.iter().map(|(n, p)| (n.to_string(), p.to_string())).collect()
            }
        }
        (answer.score, answer.score_max) = p.score.map_or((String::new(), false), |(s, max)| (s.to_string(), max));
        answer.score_range = p.score_range;
        match p.reasons {
            ReasonsRule::None => answer.reasons = String::new(),
            ReasonsRule::Keys(pointer, threshold) => {
                (answer.reasons, answer.reasons_keys) = (pointer.to_string(), Some(threshold))
            }
            ReasonsRule::Items(pointer, name, when) => {
                answer.reasons = pointer.to_string();
                answer.reasons_items = Some(ItemsRule { name: name.to_string(), when: when.to_string() });
            }
        }
    }
    for (k, v) in t.decision_map.iter().flatten() {
        mapped(k, v, &mut problems);
    }
    answer.decision_map = decision_map;
    let pointer = |key: &str, value: &str, problems: &mut Vec<Diagnostic>| {
        if !value.is_empty() && !value.starts_with('/') {
            problems.push(here(
                key,
                Code::InvalidPointer,
                format!("`{key}` = `{value}` is not a JSON pointer (it starts with /)"),
            ));
        }
        value.to_string()
    };
    if let Some(d) = &t.decision {
        answer.decision = pointer("decision", d, &mut problems);
    }
    if let Some(sc) = &t.score {
        answer.score = pointer("score", sc, &mut problems);
    }
    if let Some(r) = &t.reasons {
        answer.reasons = pointer("reasons", r, &mut problems);
    }
    if let Some(any) = &t.decision_any {
        answer.decision_any =
            any.iter().map(|(name, p)| (name.clone(), pointer("decision-any", p, &mut problems))).collect();
    }
    if let Some(rule) = &t.decision_text {
        if let Some(allow) = &rule.allow_prefix {
            answer.text_allow = Some(TextRule::Prefix(allow.clone()));
        }
        for e in rule.errors.iter().flatten() {
            match regex::Regex::new(e) {
                Ok(re) => answer.text_errors.push(re),
                Err(err) => {
                    problems.push(here("decision-text", Code::InvalidPattern, format!("decision-text errors: {err}")))
                }
            }
        }
        answer.decision_text = match (&rule.prefix, &rule.regex) {
            (Some(prefix), None) => Some(TextRule::Prefix(prefix.clone())),
            (None, Some(re)) => match regex::Regex::new(re) {
                Ok(re) => Some(TextRule::Regex(re)),
                Err(e) => {
                    problems.push(here("decision-text", Code::InvalidPattern, format!("decision-text regex: {e}")));
                    None
                }
            },
            _ => {
                problems.push(here(
                    "decision-text",
                    Code::InvalidPattern,
                    "decision-text takes exactly one of `prefix` or `regex`".into(),
                ));
                None
            }
        };
    }
    if let Some(max) = t.score_max {
        answer.score_max = max;
    }
    if t.reasons_keys == Some(true) || t.reasons_threshold.is_some() {
        answer.reasons_keys = Some(t.reasons_threshold.or(answer.reasons_keys).unwrap_or(0.5));
    } else if t.reasons_keys == Some(false) {
        answer.reasons_keys = None;
    }
    if let Some(items) = &t.reasons_items {
        answer.reasons_items = Some(ItemsRule {
            name: pointer("reasons-items", &items.name, &mut problems),
            when: pointer("reasons-items", &items.when, &mut problems),
        });
    }
    let mut url = t.url.clone().or_else(|| preset.and_then(|p| p.url.map(str::to_string))).unwrap_or_default();
    if let Some((param, value)) = preset.and_then(|p| p.query_default) {
        if !url.is_empty() && !url.contains(&format!("{param}=")) {
            url = format!("{url}{}{param}={value}", if url.contains('?') { '&' } else { '?' });
        }
    }
    if let Some(host) = plain_http_host(&url) {
        if !is_loopback(host) && !t.allow_http.unwrap_or(false) {
            problems.push(here(
                "url",
                Code::InsecureUrl,
                format!("`{url}` would send every case unencrypted to {host}: use https://, or set allow-http = true"),
            ));
        }
    }
    if let Some(rate) = t.rate_limit {
        if !(rate.is_finite() && rate > 0.0) {
            problems.push(here(
                "rate-limit",
                Code::OutOfRange,
                format!("rate-limit = {rate}: requests per second above 0"),
            ));
        }
    }
    let ca_certs = match &t.ca_file {
        Some(f) => match super::tls::read_ca_file(&file.base.join(f)) {
            Ok(certs) => Some(certs),
            Err(e) => {
                problems.push(here("ca-file", Code::UnreadableCaFile, e));
                None
            }
        },
        None => None,
    };
    let client_cert = match (&t.client_cert, &t.client_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => match super::tls::read_client_pair(&file.base.join(cert), &file.base.join(key)) {
            Ok(pair) => Some(pair),
            Err(e) => {
                problems.push(here("client-cert", Code::UnreadableClientCert, e));
                None
            }
        },
        (Some(_), None) | (None, Some(_)) => {
            let key = if t.client_cert.is_some() { "client-cert" } else { "client-key" };
            problems.push(here(key, Code::UnreadableClientCert, "client-cert and client-key go together".into()));
            None
        }
    };
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    Ok(HttpTarget::new(HttpConfig {
        client_cert,
        url,
        body,
        headers,
        answer,
        preset: preset.map(|p| (p.name, p.kinds, p.max_chars)),
        concurrency: t.concurrency(),
        rate_limit: t.rate_limit,
        timeout: t.timeout(),
        retries: t.retries.unwrap_or(TargetSpec::DEFAULT_RETRIES),
        ca_certs,
    }))
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
        "exec" => Ok(Box::new(ExecTarget::new(t.exec_config(file.base)))),
        "http" => Ok(Box::new(http_target(t, file)?)),
        other => {
            Err(Diagnostic::new(file.path, Code::UnsupportedTarget, format!("target kind `{other}` is not available"))
                .at_key(file.spans, &["target", "kind"])
                .into())
        }
    }
}
