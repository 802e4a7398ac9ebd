//! Production decision logs: JSONL with `ts`, `decision`, `error` or
//! `status`, `latency-us`, optional `tenant`, `policy-version`, `label`
//! (`benign` or `adversarial`: a reviewed sample, or a red-team probe mixed
//! into real traffic; what the rolling FPR and ASR are computed from),
//! `matched-rule` (the policy rule that decided; `null` when none matched),
//! `cost` (what the decision cost, in any one unit) and `reasons` (the
//! decision's reason codes, as in results.jsonl).
//! Every bad line is reported as `path:line`; out-of-order timestamps are
//! fine (entries are sorted); nothing is dropped silently.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use crate::progress::map_lines_with;
use serde::Deserialize;

use crate::errors::{Code, Diagnostic};

/// One decision, reduced to what the release checks need.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Entry {
    /// Milliseconds since the Unix epoch.
    pub ts_ms: i64,
    pub error: bool,
    pub deny: bool,
    /// Saturates at u32::MAX µs (71 minutes): a narrower field keeps ten
    /// million entries within the memory (and time) the log took before
    /// labels, tenants, rules and costs were added.
    pub latency_us: Option<u32>,
    pub canary: bool,
    pub label: Option<crate::corpus::Label>,
    /// One more than the index into the tenant names `parse_log` interned
    /// (a niche keeps the entry within 40 bytes with `reasons` beside it).
    pub tenant: Option<std::num::NonZeroU32>,
    /// Whether a policy rule matched, when the line says (`matched-rule`).
    pub matched: Option<bool>,
    /// What the decision cost, in the log's own unit.
    pub cost: Option<f32>,
    /// The line's reason codes: bit `i` is `Names::reasons[i]`.
    pub reasons: u32,
}

/// Names the logs gave, interned while parsing: the entries keep indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Names {
    pub tenants: Vec<String>,
    /// At most [`MAX_REASONS`] distinct reason codes.
    pub reasons: Vec<String>,
}

/// Distinct reason codes the logs may hold (a bit each in an entry).
pub const MAX_REASONS: usize = 32;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Line<'a> {
    ts: serde_json::Value,
    #[serde(default, borrow)]
    decision: Option<Text<'a>>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    status: Option<serde_json::Value>,
    #[serde(default)]
    latency_us: Option<u64>,
    #[serde(default, borrow)]
    policy_version: Option<Text<'a>>,
    #[serde(default, borrow)]
    label: Option<Text<'a>>,
    #[serde(default, borrow)]
    tenant: Option<Text<'a>>,
    /// Absent: the log does not say; `null`: no rule matched; a rule id.
    #[serde(default, borrow, deserialize_with = "present")]
    matched_rule: Option<Option<Text<'a>>>,
    #[serde(default)]
    cost: Option<f64>,
    #[serde(default, borrow)]
    reasons: Option<Vec<Text<'a>>>,
}

/// A string field borrowed from the line when it has no escapes. serde
/// borrows a bare `Cow<str>` field but not one inside an `Option`: that
/// allocated every decision, label and tenant of every line.
struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

/// Tells a `null` field (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Which population a log's lines belong to.
#[derive(Debug, Clone, PartialEq)]
pub enum Population {
    Canary,
    Baseline,
    /// Decided per line: `policy-version` equal to this is canary, others baseline.
    ByVersion(String),
}

/// Decisions are judged between these instants (2000-01-01 and
/// 2100-01-01, UTC): a timestamp outside is a unit mistake (microseconds
/// read as milliseconds land in the year 58,000) or a corrupt line, and
/// one of them used to stretch the windows over decades of empty time.
const EARLIEST_MS: i64 = 946_684_800_000;
const LATEST_MS: i64 = 4_102_444_800_000;

/// Milliseconds since the epoch: RFC 3339, or epoch seconds, or epoch
/// milliseconds (a number over 1e11). `Err` says why not.
fn parse_ts(v: &serde_json::Value) -> Result<i64, String> {
    let ms = match v {
        serde_json::Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            // Seconds unless clearly milliseconds.
            let ms = if x > 1e11 { x } else { x * 1000.0 };
            if !ms.is_finite() || ms.abs() > 1e17 {
                return Err(format!("`ts` {n} is no time a log can hold"));
            }
            ms as i64
        }
        serde_json::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|_| "`ts` must be RFC 3339 or epoch seconds".to_string())?
            .timestamp_millis(),
        _ => return Err("`ts` must be RFC 3339 or epoch seconds".into()),
    };
    if !(EARLIEST_MS..LATEST_MS).contains(&ms) {
        let when = chrono::DateTime::from_timestamp_millis(ms)
            .map_or_else(|| "out of range".to_string(), |d| d.format("%Y-%m-%d").to_string());
        return Err(format!(
            "`ts` {v} reads as {when}: outside 2000-01-01 to 2100-01-01 (epoch seconds, milliseconds over 1e11, or RFC 3339; microseconds are not read)"
        ));
    }
    Ok(ms)
}

fn is_error(error: &Option<serde_json::Value>, status: &Option<serde_json::Value>) -> bool {
    let error_set = match error {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    };
    let status_bad = match status {
        Some(serde_json::Value::Number(n)) => n.as_u64().is_some_and(|c| c >= 500),
        Some(serde_json::Value::String(s)) => {
            matches!(s.as_str(), "error" | "timeout" | "failed") || s.parse::<u64>().is_ok_and(|c| c >= 500)
        }
        _ => false,
    };
    error_set || status_bad
}

/// Parses one log's bytes (read from `path` by the caller: this module is
/// pure) in parallel. Returns entries and every bad line; tenant names are
/// interned into `names` (shared by every log read), and so are reason codes.
pub fn parse_log(
    path: &Path,
    bytes: Vec<u8>,
    population: &Population,
    names: &mut Names,
    progress: &dyn crate::progress::Progress,
) -> Result<(Vec<Entry>, Vec<Diagnostic>), Diagnostic> {
    let tenants = &mut names.tenants;
    let text = String::from_utf8(bytes).map_err(|e| Diagnostic::new(path, Code::InvalidUtf8, e.to_string()))?;
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
    // Tenants are interned while parsing: an owned name per line cost a
    // third of the parse on 10M lines, and a shared lock per line made the
    // cores contend for its counter; so each block of lines keeps its own
    // cache and asks the shared map once per tenant. Ids follow first
    // sight in a parallel parse; only names ever surface.
    let interned: std::sync::RwLock<HashMap<String, u32>> =
        std::sync::RwLock::new(tenants.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect());
    let intern = |name: &str| -> u32 {
        if let Some(&id) = interned.read().expect("tenant lock").get(name) {
            return id;
        }
        let mut map = interned.write().expect("tenant lock");
        let next = map.len() as u32;
        *map.entry(name.to_string()).or_insert(next)
    };
    // Reason codes are few; lines without any never touch the map.
    let reason_ids: std::sync::RwLock<HashMap<String, u32>> =
        std::sync::RwLock::new(names.reasons.iter().enumerate().map(|(i, r)| (r.clone(), i as u32)).collect());
    let reason_bit = |name: &str| -> Option<u32> {
        let known = reason_ids.read().expect("reason lock").get(name).copied();
        let id = match known {
            Some(id) => id,
            None => {
                let mut map = reason_ids.write().expect("reason lock");
                let next = map.len() as u32;
                *map.entry(name.to_string()).or_insert(next)
            }
        };
        ((id as usize) < MAX_REASONS).then(|| 1u32 << id)
    };
    // Errors are boxed: ten million `Result`s as wide as a `Diagnostic`
    // doubled the memory the parse writes, and with it the time.
    let parsed: Vec<Result<Entry, Box<Diagnostic>>> = map_lines_with(&lines, progress, Vec::new, |seen, n, l| {
        let (mut entry, tenant, reasons) = parse_line(path, population, n, l).map_err(Box::new)?;
        for r in reasons {
            entry.reasons |= reason_bit(&r).ok_or_else(|| {
                let message = format!(
                    "reason `{}` is one more than the {MAX_REASONS} distinct reason codes gauntlet tracks across the logs",
                    shown(&r)
                );
                Box::new(Diagnostic::new(path, Code::OutOfRange, message).at_line(n))
            })?;
        }
        entry.tenant = tenant
            .map(|name| match name {
                // Borrowed (no escapes): the line outlives the block's cache. A
                // short list beats hashing for the handful of tenants a block
                // sees; past 64 the shared map is asked directly.
                Cow::Borrowed(name) => match seen.iter().find(|(n, _)| *n == name) {
                    Some(&(_, id)) => id,
                    None => {
                        let id = intern(name);
                        if seen.len() < 64 {
                            seen.push((name, id));
                        }
                        id
                    }
                },
                Cow::Owned(name) => intern(&name),
            })
            .and_then(|id| std::num::NonZeroU32::new(id + 1));
        Ok(entry)
    });
    let mut interned: Vec<(String, u32)> = interned.into_inner().expect("tenant lock").into_iter().collect();
    interned.sort_by_key(|(_, id)| *id);
    *tenants = interned.into_iter().map(|(name, _)| name).collect();
    let mut reasons: Vec<(String, u32)> = reason_ids.into_inner().expect("reason lock").into_iter().collect();
    reasons.sort_by_key(|(_, id)| *id);
    names.reasons = reasons.into_iter().map(|(name, _)| name).collect();
    let mut entries = Vec::with_capacity(parsed.len());
    let mut problems = Vec::new();
    for p in parsed {
        match p {
            Ok(e) => entries.push(e),
            Err(d) => problems.push(*d),
        }
    }
    Ok((entries, problems))
}

/// A parsed line before interning: the entry, its tenant, its reason codes.
type ParsedLine<'a> = (Entry, Option<Cow<'a, str>>, Vec<Cow<'a, str>>);

/// One line: an entry (its tenant and reasons not yet interned), the
/// tenant's name and the reason codes, or the line's problem.
fn parse_line<'a>(path: &Path, population: &Population, n: usize, l: &'a str) -> Result<ParsedLine<'a>, Diagnostic> {
    if !l.trim_start().starts_with('{') {
        // serde would name the first value it met ("invalid type: integer").
        let message = "a decision-log line must be one JSON object: one decision per line";
        return Err(Diagnostic::new(path, Code::InvalidLogLine, message).at_line(n));
    }
    let line: Line = serde_json::from_str(l)
        .map_err(|e| Diagnostic::new(path, Code::InvalidLogLine, e.to_string()).at(n, e.column()))?;
    let ts_ms = parse_ts(&line.ts).map_err(|why| Diagnostic::new(path, Code::InvalidTimestamp, why).at_line(n))?;
    let error = is_error(&line.error, &line.status);
    let deny = match line.decision.as_ref().map(Text::as_str) {
        Some("block") | Some("deny") => true,
        Some("allow") | Some("require_approval") | None => false,
        Some(other) => {
            return Err(Diagnostic::new(
                path,
                Code::InvalidDecision,
                format!("decision `{}` is not allow, block or require_approval", shown(other)),
            )
            .at_line(n))
        }
    };
    if line.decision.is_none() && !error {
        return Err(Diagnostic::new(path, Code::MissingDecision, "a line without an error needs `decision`").at_line(n));
    }
    let canary = match population {
        Population::Canary => true,
        Population::Baseline => false,
        Population::ByVersion(v) => line.policy_version.as_ref().map(Text::as_str) == Some(v.as_str()),
    };
    let label = match line.label.as_ref().map(Text::as_str) {
        None => None,
        Some("benign") => Some(crate::corpus::Label::Benign),
        Some("adversarial") => Some(crate::corpus::Label::Adversarial),
        Some(other) => {
            return Err(Diagnostic::new(
                path,
                Code::InvalidLabel,
                format!("label `{}` is neither benign nor adversarial", shown(other)),
            )
            .at_line(n))
        }
    };
    let cost = match line.cost {
        Some(c) if !(c >= 0.0 && c.is_finite()) => {
            return Err(
                Diagnostic::new(path, Code::OutOfRange, format!("`cost` {c} must be a finite number >= 0")).at_line(n)
            )
        }
        c => c.map(|c| c as f32),
    };
    let matched = line.matched_rule.map(|r| r.is_some());
    let entry = Entry {
        ts_ms,
        error,
        deny: deny && !error,
        latency_us: line.latency_us.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
        canary,
        label,
        tenant: None,
        matched,
        cost,
        reasons: 0,
    };
    if let Some(t) = line.tenant.as_ref().filter(|t| t.0.is_empty() || t.0.chars().nth(MAX_TENANT_CHARS).is_some()) {
        // A tenant is a name every report repeats: one 50 MB name made each
        // report 200 MB. Cutting it short could merge two tenants.
        let message = format!("tenant `{}` is empty or longer than {MAX_TENANT_CHARS} characters", shown(&t.0));
        return Err(Diagnostic::new(path, Code::InvalidTenant, message).at_line(n));
    }
    let reasons = line.reasons.unwrap_or_default().into_iter().map(|r| r.0).filter(|r| !r.is_empty()).collect();
    Ok((entry, line.tenant.map(|t| t.0), reasons))
}

/// The longest tenant name a decision log may give.
pub const MAX_TENANT_CHARS: usize = 200;

/// A value from the log as an error message shows it: escaped, and cut
/// short, since a line may be megabytes of one string.
fn shown(s: &str) -> String {
    let (head, cut) = crate::text::truncate_chars(s, 60);
    format!("{}{}", head.escape_debug(), if cut { "…" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten million of them are held at once; 40 bytes is what an entry took
    /// before labels, tenants, matched rules and costs were parsed.
    /// Fields are borrowed from the line when they can be; a field with an
    /// escape is still read, as the same value.
    /// Regression (#37): a microsecond timestamp was read as milliseconds
    /// (the year 58,000), and `release` then walked its windows over the
    /// decades between: 7.8 GB in 20 s. Such a line is an error at its line.
    #[test]
    fn a_timestamp_outside_2000_to_2100_is_an_error_at_its_line() {
        let log = "{\"ts\":1790000001,\"decision\":\"allow\"}\n{\"ts\":1790000002000000,\"decision\":\"allow\"}\n{\"ts\":\"2100-01-02T00:00:00Z\",\"decision\":\"allow\"}\n{\"ts\":1790000003000,\"decision\":\"allow\"}\n";
        let mut names = Names::default();
        let (entries, problems) =
            parse_log(Path::new("log.jsonl"), log.as_bytes().to_vec(), &Population::Canary, &mut names, &()).unwrap();
        assert_eq!(entries.len(), 2, "seconds and milliseconds read");
        let at: Vec<_> = problems.iter().map(|d| (d.line, d.code)).collect();
        assert_eq!(at, [(Some(2), Code::InvalidTimestamp), (Some(3), Code::InvalidTimestamp)]);
        assert!(problems[0].message.contains("outside 2000-01-01 to 2100-01-01"), "{}", problems[0].message);
    }

    #[test]
    fn escaped_and_plain_fields_read_alike() {
        let log = "{\"ts\":1790000001,\"decision\":\"block\",\"tenant\":\"acme\",\"label\":\"benign\"}\n\
             {\"ts\":1790000002,\"decision\":\"bl\\u006fck\",\"tenant\":\"ac\\u006de\",\"label\":\"ben\\u0069gn\",\"matched-rule\":null}\n";
        let mut names = Names::default();
        let (entries, problems) =
            parse_log(Path::new("log.jsonl"), log.as_bytes().to_vec(), &Population::Canary, &mut names, &()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(names.tenants, ["acme"]);
        assert_eq!(entries[0], Entry { ts_ms: 1_790_000_001_000, matched: None, ..entries[1] });
        assert_eq!(entries[1].matched, Some(false));
        assert!(entries[1].deny && entries[1].label == Some(crate::corpus::Label::Benign));
    }

    #[test]
    fn an_entry_stays_within_forty_bytes() {
        assert!(std::mem::size_of::<Entry>() <= 40, "{}", std::mem::size_of::<Entry>());
    }
}
