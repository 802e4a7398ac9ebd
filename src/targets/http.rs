//! The `http` target: one POST per case over a keep-alive connection pool.
//!
//! Defaults speak the target protocol (the request object as the body, the
//! answer's `decision`, `score`, `reasons` read back), so `url` alone works
//! for a server that speaks it. Other APIs are adapted with a body template
//! and JSON pointers. Connection errors, 429 and 5xx are retried with
//! backoff (honouring Retry-After); what still fails is an error outcome.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::answer::AnswerMapping;
use super::presets::CaseKind;
use super::protocol::{excerpt, Request};
use super::rate::{RateLimiter, SystemClock};
use super::{ErrorKind, Outcome, ReplayProgress, Replayed, Target, TargetFingerprint};
use crate::corpus::{Case, Direction, Payload};
use crate::errors::Error;
use crate::hashing::Fingerprint;

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub url: String,
    /// A body template: `{{ input }}`, `{{ id }}`, `{{ context }}`,
    /// `{{ messages }}`, `{{ chat }}`, `{{ documents }}` are replaced by the
    /// field as JSON (quoted, escaped).
    pub body: Option<String>,
    /// Header values with `${ENV}` already expanded: never logged or reported.
    pub headers: Vec<(String, String)>,
    pub answer: AnswerMapping,
    /// The preset this came from, and the case kinds it can send (`None`: all).
    /// (name, the case kinds it sends, the longest text it takes).
    pub preset: Option<(&'static str, &'static [CaseKind], Option<usize>)>,
    pub concurrency: usize,
    /// Requests per second over all connections (`rate-limit`); `None`: as fast as answered.
    pub rate_limit: Option<f64>,
    pub timeout: Duration,
    pub retries: u32,
    /// Certificates (DER) trusted instead of the system's store (`ca-file`).
    pub ca_certs: Option<Vec<Vec<u8>>>,
    /// Mutual TLS: the client's chain and key (`client-cert`, `client-key`).
    pub client_cert: Option<ureq::tls::ClientCert>,
}

/// Placeholders a body template may use.
pub const TEMPLATE_FIELDS: &[&str] = &["input", "id", "context", "messages", "chat", "documents", "alternating-chat"];

pub struct HttpTarget {
    config: HttpConfig,
    agent: ureq::Agent,
    version: Mutex<Option<String>>,
    /// The health probe's request, sent again untimed by each replay thread
    /// before its first case: every pooled connection is opened (and the
    /// endpoint warmed) outside the timed cases.
    warm_up: std::sync::OnceLock<Case>,
    limiter: RateLimiter,
    /// Requests sent and when the replay began: the rate reached so far.
    sent: std::sync::atomic::AtomicU64,
    replay_started: OnceLock<Instant>,
    clean_in_a_row: std::sync::atomic::AtomicU32,
}

/// `${NAME}` → the environment variable, `${NAME:-default}` → it or the
/// default; an unset variable without a default is an error naming it.
pub fn expand_env(value: &str) -> Result<String, String> {
    expand_env_with(value, |v| v.to_string())
}

/// [`expand_env`] for a JSON body template: each value is escaped as the
/// inside of a JSON string, so a quote in a variable cannot break the body.
pub fn expand_env_json(value: &str) -> Result<String, String> {
    expand_env_with(value, |v| {
        let quoted = serde_json::to_string(v).expect("json");
        quoted[1..quoted.len() - 1].to_string()
    })
}

fn expand_env_with(value: &str, escape: impl Fn(&str) -> String) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or_else(|| format!("unclosed `${{` in `{value}`"))? + start;
        let inner = &rest[start + 2..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match (std::env::var(name), default) {
            (Ok(v), _) => out.push_str(&escape(&v)),
            (Err(_), Some(d)) => out.push_str(&escape(d)),
            (Err(_), None) => return Err(format!("environment variable `{name}` is not set")),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks a body template's placeholders.
pub fn check_template(template: &str) -> Result<(), String> {
    for name in placeholders(template) {
        if !TEMPLATE_FIELDS.contains(&name) {
            return Err(format!("unknown placeholder `{{{{ {name} }}}}` (use {})", TEMPLATE_FIELDS.join(", ")));
        }
    }
    Ok(())
}

fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split("{{").skip(1).filter_map(|part| part.split_once("}}").map(|(name, _)| name.trim()))
}

fn render(template: &str, case: &Case) -> String {
    let request = Request::for_case(case);
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else { break };
        let name = rest[start + 2..start + len].trim();
        let value = match name {
            "input" => serde_json::to_string(&request.input),
            "id" => serde_json::to_string(&request.id),
            "context" => serde_json::to_string(&request.context),
            "chat" => serde_json::to_string(&chat_messages(case)),
            "alternating-chat" => serde_json::to_string(&alternating(chat_messages(case))),
            "documents" => serde_json::to_string(&documents(case)),
            _ => serde_json::to_string(&request.messages),
        };
        out.push_str(&value.expect("json"));
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// The case as chat messages, the shape chat-style guard APIs take: a
/// prompt is one user message; an egress response is the assistant's
/// message after the prompt in `context.prompt` (when known); a
/// conversation is itself.
fn chat_messages(case: &Case) -> Vec<serde_json::Value> {
    let message = |role: &str, content: &str| serde_json::json!({"role": role, "content": content});
    match &case.payload {
        Payload::Conversation(messages) => messages.iter().map(|m| message(&m.role, &m.content)).collect(),
        Payload::Text(text) if case.direction == Direction::Egress => {
            let prompt = case.context.as_ref().and_then(|c| c.get("prompt")).and_then(Value::as_str);
            prompt.map(|p| message("user", p)).into_iter().chain([message("assistant", text)]).collect()
        }
        Payload::Text(text) => vec![message("user", text)],
        Payload::Structured(map) => vec![message("user", &Value::Object(map.clone()).to_string())],
    }
}

/// What an egress case without its prompt is sent after, where a chat
/// template needs a user turn first.
pub const MISSING_PROMPT: &str = "(The user's request was not recorded. Judge the assistant's response that follows.)";

/// Chat messages shaped for a template that takes only alternating user
/// and assistant turns starting with the user (Llama Guard 3's raises on
/// anything else): a system message is folded into the first user turn,
/// other roles are read as the user, consecutive turns of one role are
/// joined, and a conversation opening with the assistant gets a stated
/// placeholder user turn first. Nothing is dropped: every text is sent.
pub fn alternating(messages: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let text = |m: &serde_json::Value| m.get("content").and_then(Value::as_str).unwrap_or("").to_string();
    let mut system: Vec<String> = Vec::new();
    let mut out: Vec<(String, String)> = Vec::new();
    for m in &messages {
        let role = match m.get("role").and_then(Value::as_str) {
            Some("assistant") => "assistant",
            Some("system") | Some("developer") => {
                system.push(text(m));
                continue;
            }
            _ => "user",
        };
        match out.last_mut() {
            Some((last, content)) if last == role => {
                content.push_str("\n\n");
                content.push_str(&text(m));
            }
            _ => out.push((role.to_string(), text(m))),
        }
    }
    if out.first().is_none_or(|(role, _)| role != "user") {
        out.insert(0, ("user".into(), if system.is_empty() { MISSING_PROMPT.into() } else { String::new() }));
    }
    if !system.is_empty() {
        let first = &mut out[0].1;
        let joined = system.join("\n\n");
        *first = if first.is_empty() { joined } else { format!("{joined}\n\n{first}") };
    }
    out.into_iter().map(|(role, content)| serde_json::json!({"role": role, "content": content})).collect()
}

/// The documents a case brings along (`context.documents`, strings), for
/// APIs that judge them separately from the prompt (indirect injection).
fn documents(case: &Case) -> Vec<String> {
    let docs = case.context.as_ref().and_then(|c| c.get("documents"));
    match docs {
        Some(Value::Array(items)) => {
            items.iter().map(|d| d.as_str().map(str::to_string).unwrap_or_else(|| d.to_string())).collect()
        }
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Whether `e` is a TLS failure (an untrusted or mismatched certificate, a
/// failed handshake) rather than a network one worth retrying.
fn tls_failure(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => true,
        // rustls reports a failed handshake as invalid data on the stream.
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::InvalidData,
        _ => false,
    }
}

/// How long a 429 or 5xx asks to wait: OpenAI's `retry-after-ms`, else
/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &ureq::http::HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()).filter(|m| m.is_finite() && *m >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

enum Attempt {
    Done(Outcome),
    /// `throttle`: the server said the run is too fast (429), not that this
    /// request failed: the whole run slows down.
    Retry {
        kind: ErrorKind,
        message: String,
        after: Option<Duration>,
        throttle: bool,
    },
}

impl HttpTarget {
    pub fn new(config: HttpConfig) -> HttpTarget {
        use ureq::tls::{RootCerts, TlsConfig};
        // The system's trust store by default (as curl and browsers trust);
        // a `ca-file` replaces it, for a private CA, a self-signed service
        // or a TLS-inspecting proxy (see `tls`).
        let agent_config = ureq::Agent::config_builder()
            .tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::PlatformVerifier)
                    .client_cert(config.client_cert.clone())
                    .build(),
            )
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_idle_connections(config.concurrency.max(1) * 2)
            .max_idle_connections_per_host(config.concurrency.max(1) * 2)
            .build();
        let agent = match &config.ca_certs {
            Some(certs) => super::tls::agent_trusting(agent_config, certs, config.client_cert.as_ref()),
            None => agent_config.into(),
        };
        HttpTarget {
            limiter: RateLimiter::new(config.rate_limit, SystemClock::default()),
            config,
            agent,
            version: Mutex::new(None),
            warm_up: std::sync::OnceLock::new(),
            sent: Default::default(),
            replay_started: OnceLock::new(),
            clean_in_a_row: Default::default(),
        }
    }

    fn version_url(&self) -> Option<String> {
        let scheme_end = self.config.url.find("://")? + 3;
        let path_start =
            self.config.url[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(self.config.url.len());
        Some(format!("{}/version", &self.config.url[..path_start]))
    }

    fn fetch_version(&self) {
        // A preset's API has no `/version` of gauntlet's protocol: no
        // pointless request to a third party.
        if self.config.preset.is_some() {
            return;
        }
        let Some(url) = self.version_url() else { return };
        let version = self
            .agent
            .get(&url)
            .call()
            .ok()
            .filter(|r| r.status().is_success())
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .map(|body| match serde_json::from_str::<Value>(&body) {
                Ok(v) => [v.get("name"), v.get("version")]
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                Err(_) => excerpt(&body),
            });
        *self.version.lock().expect("version lock") = version;
    }

    /// One case, retried as configured; `None` when `budget` refused a
    /// request first (the case stays without an outcome).
    fn body(&self, case: &Case) -> String {
        match &self.config.body {
            Some(t) => render(t, case),
            None => serde_json::to_string(&Request::for_case(case)).expect("json"),
        }
    }

    fn call(&self, case: &Case, budget: &dyn ReplayProgress) -> Option<Outcome> {
        let body = self.body(case);
        // A case's latency is the attempt that gave its outcome, from the
        // send to the whole answer: waiting for the rate limit or between
        // retries is gauntlet's pacing, not the gate's time.
        self.limiter.acquire();
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > 1 {
                self.limiter.acquire();
            }
            if budget.reserve(1) == 0 {
                return None;
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
            let start = Instant::now();
            match self.attempt(&body, start) {
                Attempt::Done(mut o) => {
                    o.attempts = attempts;
                    if o.decision.is_ok() {
                        self.limiter.answered(self.clean_in_a_row.fetch_add(1, Ordering::Relaxed) + 1);
                    }
                    if let Err(e) = &mut o.decision {
                        e.message = self.redact(std::mem::take(&mut e.message));
                    }
                    return Some(o);
                }
                Attempt::Retry { kind, message, after, throttle } => {
                    if attempts > self.config.retries {
                        let mut o = Outcome::error(
                            kind,
                            self.redact(format!("{message} after {attempts} attempt(s)")),
                            start.elapsed().as_micros() as u64,
                        );
                        o.attempts = attempts;
                        return Some(o);
                    }
                    let backoff = Duration::from_millis(50u64 << (attempts - 1).min(6));
                    if throttle {
                        self.clean_in_a_row.store(0, Ordering::Relaxed);
                        let pause = after.unwrap_or(backoff).min(Duration::from_secs(60));
                        self.limiter.throttled_by_server(pause, self.observed_rate());
                    } else {
                        std::thread::sleep(after.unwrap_or(backoff).min(Duration::from_secs(5)));
                    }
                }
            }
        }
    }

    fn attempt(&self, body: &str, start: Instant) -> Attempt {
        let mut request = self.agent.post(&self.config.url).header("content-type", "application/json");
        for (k, v) in &self.config.headers {
            request = request.header(k, v);
        }
        let elapsed = || start.elapsed().as_micros() as u64;
        let mut response = match request.send(body) {
            Ok(r) => r,
            Err(ureq::Error::Timeout(_)) => {
                return Attempt::Done(Outcome::error(
                    ErrorKind::Timeout,
                    format!("no answer within {} ms", self.config.timeout.as_millis()),
                    elapsed(),
                ))
            }
            // A certificate the client does not trust will not be trusted on
            // a retry: said once, plainly, with what to do about it.
            Err(e) if tls_failure(&e) => {
                return Attempt::Done(Outcome::error(
                    ErrorKind::Connect,
                    format!(
                        "TLS: {e} (is the server's certificate signed by a CA in the system's store, or in `ca-file`?)"
                    ),
                    elapsed(),
                ))
            }
            Err(e @ (ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound)) => {
                return Attempt::Retry {
                    kind: ErrorKind::Connect,
                    message: format!("connect: {e}"),
                    after: None,
                    throttle: false,
                }
            }
            Err(e) => return Attempt::Done(Outcome::error(ErrorKind::Http, format!("http: {e}"), elapsed())),
        };
        let status = response.status().as_u16();
        if status == 429 || status >= 500 {
            let after = retry_after(response.headers());
            let _ = response.body_mut().read_to_string();
            return Attempt::Retry {
                kind: ErrorKind::Http,
                message: format!("http {status}"),
                after,
                throttle: status == 429,
            };
        }
        let text = match response.body_mut().read_to_string() {
            Ok(t) => t,
            Err(e) => return Attempt::Done(Outcome::error(ErrorKind::Http, format!("reading body: {e}"), elapsed())),
        };
        if !(200..300).contains(&status) {
            return Attempt::Done(Outcome::error(
                ErrorKind::Http,
                format!("http {status}: {}", excerpt(&text)),
                elapsed(),
            ));
        }
        Attempt::Done(self.config.answer.read(&text, elapsed()))
    }

    /// Requests per second sent so far in this replay.
    fn observed_rate(&self) -> f64 {
        let secs = self.replay_started.get().map_or(0.0, |t| t.elapsed().as_secs_f64());
        // (Not under 10 ms: the first requests go out together.)
        self.sent.load(Ordering::Relaxed) as f64 / secs.max(0.01)
    }

    /// `message` with every header value (keys, tokens) blanked out: an
    /// API that echoes the request in an error must not put a key into a
    /// report.
    fn redact(&self, message: String) -> String {
        self.config
            .headers
            .iter()
            .filter(|(_, v)| v.len() >= 4)
            .fold(message, |m, (_, v)| m.replace(v.as_str(), "[redacted]"))
    }
}

impl Target for HttpTarget {
    fn send_once(&self, case: &Case) -> Option<Outcome> {
        let body = self.body(case);
        self.sent.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let mut outcome = match self.attempt(&body, start) {
            Attempt::Done(o) => o,
            // A 429, a 5xx or a refused connection under load is the finding:
            // counted as the error it is, never retried away.
            Attempt::Retry { kind, message, .. } => Outcome::error(kind, message, start.elapsed().as_micros() as u64),
        };
        if let Err(e) = &mut outcome.decision {
            e.message = self.redact(std::mem::take(&mut e.message));
        }
        Some(outcome)
    }

    fn probe(&self, case: &Case, budget: &dyn ReplayProgress) -> Result<(), Error> {
        let _ = self.warm_up.set(case.clone());
        let Some(outcome) = self.call(case, budget) else {
            return Err(Error::Target(format!("health probe to {}: the request budget ran out", self.config.url)));
        };
        match outcome.decision {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::Target(format!("health probe to {}: {}", self.config.url, e.message))),
        }
    }

    fn cannot_send(&self, case: &Case) -> Option<String> {
        let (preset, kinds, max_chars) = self.config.preset?;
        let kind = CaseKind::of(case);
        if !kinds.contains(&kind) {
            return Some(format!(
                "preset `{preset}` cannot send {} (it sends {})",
                kind.as_str(),
                kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        let chars = match &case.payload {
            crate::corpus::Payload::Text(t) => t.chars().count(),
            _ => 0,
        };
        max_chars.filter(|max| chars > *max).map(|max| {
            format!("{chars} characters: preset `{preset}` takes at most {max} (the API answers 400 for a longer text)")
        })
    }

    fn fingerprint(&self) -> TargetFingerprint {
        let mut f = Fingerprint::new();
        f.part(self.config.url.as_bytes()).part(self.config.body.as_deref().unwrap_or("").as_bytes());
        TargetFingerprint {
            kind: "http".into(),
            description: match self.config.preset {
                Some((preset, _, _)) => format!("{} (preset {preset})", self.config.url),
                None => self.config.url.clone(),
            },
            version: self.version.lock().expect("version lock").clone(),
            hash: f.finish(),
            // Shown only when something held the run back.
            throttled_ms: Some(self.limiter.throttled().as_millis() as u64).filter(|&ms| ms > 0),
            latency_method: Some(crate::targets::LatencyMethod::SendToAnswer),
            latency_resolution_us: None,
            restarts: None,
        }
    }

    fn replay(&self, cases: &[Case], progress: &dyn ReplayProgress) -> Result<Replayed, Error> {
        self.fetch_version();
        let _ = self.replay_started.set(Instant::now());
        let slots: Vec<OnceLock<Outcome>> = (0..cases.len()).map(|_| OnceLock::new()).collect();
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..self.config.concurrency.max(1).min(cases.len().max(1)) {
                s.spawn(|| {
                    if let Some(case) = self.warm_up.get().filter(|_| progress.warm_connections()) {
                        let _ = self.call(case, progress); // untimed; a real failure shows in the cases
                    }
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= cases.len() || progress.stopped() || progress.halted().is_some() {
                            break;
                        }
                        let Some(outcome) = self.call(&cases[i], progress) else { break };
                        let failed = outcome.decision.is_err();
                        progress.outcome(i, &outcome);
                        let _ = slots[i].set(outcome);
                        progress.advance(1);
                        if failed {
                            progress.failed(1);
                        }
                    }
                });
            }
        });
        if let Some(reason) = progress.halted() {
            // The abort rule held: the cases not sent are recorded as not run.
            let outcomes = slots
                .into_iter()
                .map(|s| {
                    s.into_inner().unwrap_or_else(|| Outcome::error(ErrorKind::Crash, format!("not run: {reason}"), 0))
                })
                .collect();
            return Ok(Replayed { outcomes, aborted: Some(reason) });
        }
        let outcomes: Option<Vec<Outcome>> = slots.into_iter().map(|s| s.into_inner()).collect();
        match outcomes {
            Some(outcomes) => Ok(Replayed { outcomes, aborted: None }),
            None => Err(Error::Target(format!(
                "{}: the request budget ran out before every case was sent",
                self.config.url
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Llama Guard 3's template raised on a lone assistant message, three
    /// user turns in a row, and a system message: each is shaped into
    /// alternating turns starting with the user, every text kept.
    #[test]
    fn chats_are_shaped_into_alternating_turns() {
        let m = |role: &str, content: &str| serde_json::json!({"role": role, "content": content});
        let roles =
            |v: &[serde_json::Value]| v.iter().map(|x| x["role"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        let lone = alternating(vec![m("assistant", "the key is 1234")]);
        assert_eq!(roles(&lone), ["user", "assistant"]);
        assert_eq!(lone[0]["content"], MISSING_PROMPT);
        let three = alternating(vec![m("user", "a"), m("user", "b"), m("user", "c"), m("assistant", "d")]);
        assert_eq!(roles(&three), ["user", "assistant"]);
        assert_eq!(three[0]["content"], "a\n\nb\n\nc");
        let system =
            alternating(vec![m("system", "be nice"), m("user", "hi"), m("tool", "result"), m("assistant", "ok")]);
        assert_eq!(roles(&system), ["user", "assistant"]);
        assert_eq!(system[0]["content"], "be nice\n\nhi\n\nresult");
        let only_system = alternating(vec![m("system", "rules")]);
        assert_eq!(
            (roles(&only_system), only_system[0]["content"].as_str()),
            (vec!["user".to_string()], Some("rules"))
        );
    }

    #[test]
    fn retry_after_as_seconds_as_an_http_date_and_as_milliseconds() {
        let headers = |pairs: &[(&'static str, String)]| {
            let mut h = ureq::http::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        assert_eq!(retry_after(&headers(&[("retry-after", "3".into())])), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250".into()), ("retry-after", "9".into())])),
            Some(Duration::from_millis(250))
        );
        let in_ten = (chrono::Utc::now() + chrono::Duration::seconds(10)).to_rfc2822().replace("+0000", "GMT");
        let wait = retry_after(&headers(&[("retry-after", in_ten)])).unwrap();
        assert!(wait > Duration::from_secs(7) && wait <= Duration::from_secs(10), "{wait:?}");
        let past = "Sun, 06 Nov 1994 08:49:37 GMT".to_string();
        assert_eq!(retry_after(&headers(&[("retry-after", past)])), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[])), None);
    }

    #[test]
    fn env_expansion_and_missing_variables() {
        std::env::set_var("GAUNTLET_TEST_TOKEN", "s3cret");
        assert_eq!(expand_env("Bearer ${GAUNTLET_TEST_TOKEN}").unwrap(), "Bearer s3cret");
        assert!(expand_env("${GAUNTLET_TEST_UNSET_VAR}").unwrap_err().contains("GAUNTLET_TEST_UNSET_VAR"));
    }

    #[test]
    fn template_placeholders_are_checked() {
        assert!(check_template(r#"{"prompt": {{ input }}, "meta": {{ context }}}"#).is_ok());
        assert!(check_template(r#"{"x": {{ label }}}"#).unwrap_err().contains("label"));
    }
}
