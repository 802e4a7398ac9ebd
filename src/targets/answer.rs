//! Reading an http target's answer: where the decision, the score and the
//! reasons sit in the JSON it returns. The plain form is three JSON
//! pointers; hosted guard APIs need a little more, and each addition is
//! general rather than tied to one API:
//!
//! - the decision as *text* (`decision-text`): a chat model's answer such
//!   as Llama Guard's `unsafe\nS1,S10`, matched by prefix or regex;
//! - the decision as *any of several flags* (`decision-any`): blocked when
//!   any named pointer holds `true`, `*` standing for every array element
//!   (Azure's per-document flags); the names that fired are the reasons;
//! - the score as the *maximum* of an object or array of scores (`score-max`);
//! - reasons as the *keys* of an object whose values are true or at least a
//!   threshold (`reasons-keys`), or as a field of the array *items* whose
//!   flag is set (`reasons-items`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::protocol::excerpt;
use super::{ErrorKind, Outcome};
use crate::corpus::Decision;

/// How a text decision is read: a match blocks, anything else allows.
#[derive(Debug, Clone)]
pub enum TextRule {
    /// The trimmed text starts with this (case-insensitive); the lines after
    /// the first are category codes, read as reasons (Llama Guard).
    Prefix(String),
    Regex(regex::Regex),
}

/// Reasons from an array of objects: `name` of each item whose `when` is true.
#[derive(Debug, Clone)]
pub struct ItemsRule {
    pub name: String,
    pub when: String,
}

#[derive(Debug, Clone)]
pub struct AnswerMapping {
    pub decision: String,
    pub decision_map: BTreeMap<String, Decision>,
    pub decision_text: Option<TextRule>,
    /// With a text decision: the text that allows. Set, any text matching
    /// neither rule is a target error (a model that answered something
    /// else), never an allow.
    pub text_allow: Option<TextRule>,
    /// Texts that mean the service failed (an error page inside a normal
    /// completion): target errors with their text.
    pub text_errors: Vec<regex::Regex>,
    /// Where a NeMo Guardrails answer carries its activated-rails log (an
    /// array of rails, each with `name` and `stop`). When the answer has
    /// it, a rail that stopped is the block and its name the reason; the
    /// text decides only for a server that sent no log.
    pub rails_log: Option<String>,
    /// (reason, pointer): blocked when any pointer holds `true`.
    pub decision_any: Vec<(String, String)>,
    /// Empty: the answer carries no score.
    pub score: String,
    pub score_max: bool,
    /// The score's own scale (low, high), mapped linearly onto 0..1.
    pub score_range: Option<(f64, f64)>,
    pub reasons: String,
    /// Keys of the object at `reasons` whose value is true or ≥ this.
    pub reasons_keys: Option<f64>,
    pub reasons_items: Option<ItemsRule>,
}

impl Default for AnswerMapping {
    /// The target protocol's own answer: `decision`, `score`, `reasons`.
    fn default() -> Self {
        AnswerMapping {
            decision: "/decision".into(),
            decision_map: BTreeMap::new(),
            decision_text: None,
            text_allow: None,
            text_errors: Vec::new(),
            rails_log: None,
            decision_any: Vec::new(),
            score: "/score".into(),
            score_max: false,
            score_range: None,
            reasons: "/reasons".into(),
            reasons_keys: None,
            reasons_items: None,
        }
    }
}

/// Every value `pointer` reaches, `*` standing for each element of an
/// array (or value of an object) at that step.
pub fn resolve<'a>(v: &'a Value, pointer: &str) -> Vec<&'a Value> {
    if !pointer.split('/').any(|t| t == "*") {
        return v.pointer(pointer).into_iter().collect();
    }
    let mut current = vec![v];
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        current = current
            .into_iter()
            .flat_map(|value| -> Vec<&Value> {
                match (token.as_str(), value) {
                    ("*", Value::Array(items)) => items.iter().collect(),
                    ("*", Value::Object(map)) => map.values().collect(),
                    (key, Value::Object(map)) => map.get(key).into_iter().collect(),
                    (index, Value::Array(items)) => {
                        index.parse::<usize>().ok().and_then(|i| items.get(i)).into_iter().collect()
                    }
                    _ => Vec::new(),
                }
            })
            .collect();
    }
    current
}

fn flagged(v: &Value, threshold: f64) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x >= threshold),
        _ => false,
    }
}

impl AnswerMapping {
    /// The outcome an answer body gives; a body this mapping cannot read is
    /// a protocol error saying where it looked.
    pub fn read(&self, text: &str, latency_us: u64) -> Outcome {
        let protocol = |m: String| Outcome::error(ErrorKind::Protocol, m, latency_us);
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return protocol(format!("answer is not JSON: {}", excerpt(text)));
        };
        let mut reasons: Vec<Arc<str>> = Vec::new();
        let rails = self.rails_log.as_deref().and_then(|p| v.pointer(p)).and_then(Value::as_array);
        let decision = if let Some(rails) = rails {
            // An error completion is an error even with a log beside it.
            if let Some(text) = v.pointer(&self.decision).and_then(Value::as_str) {
                if self.text_errors.iter().any(|re| re.is_match(text)) {
                    let m = format!("the target answered an error, not a decision: {}", excerpt(text));
                    return Outcome::error(ErrorKind::Target, m, latency_us);
                }
            }
            for rail in rails.iter().filter(|r| r.get("stop").and_then(Value::as_bool) == Some(true)) {
                let name = rail.get("name").and_then(Value::as_str).unwrap_or("(unnamed rail)");
                reasons.push(Arc::from(name));
            }
            if reasons.is_empty() {
                Decision::Allow
            } else {
                Decision::Block
            }
        } else if !self.decision_any.is_empty() {
            let mut seen = false;
            for (name, pointer) in &self.decision_any {
                let values = resolve(&v, pointer);
                seen |= !values.is_empty();
                if values.iter().any(|x| x.as_bool() == Some(true)) {
                    reasons.push(Arc::from(name.as_str()));
                }
            }
            if !seen {
                return self.missing(&v, text, latency_us);
            }
            if reasons.is_empty() {
                Decision::Allow
            } else {
                Decision::Block
            }
        } else {
            let key = match v.pointer(&self.decision) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) if self.decision_text.is_none() => b.to_string(),
                _ => return self.missing(&v, text, latency_us),
            };
            match &self.decision_text {
                Some(rule) => match self.read_text(rule, &key, &mut reasons) {
                    Ok(d) => d,
                    Err(m) => return Outcome::error(ErrorKind::Target, m, latency_us),
                },
                None => match self.decision_map.get(&key).copied().or_else(|| Decision::parse(&key)) {
                    Some(d) => d,
                    None => {
                        return protocol(format!("decision `{}` is not mapped (add it to decision-map)", excerpt(&key)))
                    }
                },
            }
        };
        let score = match self.read_score(&v) {
            Ok(s) => s,
            Err(m) => return protocol(m),
        };
        self.read_reasons(&v, &mut reasons);
        Outcome {
            decision: Ok(decision),
            score,
            reasons,
            latency_us,
            target_latency_us: v.get("latency-us").and_then(Value::as_u64),
            queue_us: None,
            attempts: 1,
            blocked_at_turn: v.get("blocked-at-turn").and_then(Value::as_u64).map(|t| t as u32),
        }
    }

    /// No decision where the mapping looks: the protocol's error answer
    /// (`{"error": "..."}`), an API's error object, or a protocol error.
    fn missing(&self, v: &Value, text: &str, latency_us: u64) -> Outcome {
        let reported = match v.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(e)) => e.get("message").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        match reported {
            Some(message) => {
                Outcome::error(ErrorKind::Target, format!("the target reported: {}", excerpt(&message)), latency_us)
            }
            None => {
                let looked = if self.decision_any.is_empty() {
                    self.decision.clone()
                } else {
                    self.decision_any.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>().join(", ")
                };
                Outcome::error(ErrorKind::Protocol, format!("no decision at `{looked}`: {}", excerpt(text)), latency_us)
            }
        }
    }

    fn read_score(&self, v: &Value) -> Result<Option<f64>, String> {
        if self.score.is_empty() {
            return Ok(None);
        }
        let value = match v.pointer(&self.score) {
            None | Some(Value::Null) => return Ok(None),
            Some(x) => x,
        };
        if self.score_max {
            let numbers: Vec<f64> = match value {
                Value::Object(m) => m.values().filter_map(Value::as_f64).collect(),
                Value::Array(a) => a.iter().filter_map(Value::as_f64).collect(),
                other => other.as_f64().into_iter().collect(),
            };
            let scale = |s: f64| match self.score_range {
                Some((lo, hi)) => (s - lo) / (hi - lo),
                None => s,
            };
            return Ok(numbers.into_iter().reduce(f64::max).map(|s| scale(s).clamp(0.0, 1.0)));
        }
        match value {
            Value::Number(n) => match n.as_f64().filter(|s| (0.0..=1.0).contains(s)) {
                Some(s) => Ok(Some(s)),
                None => Err(format!("score outside [0, 1]: {n}")),
            },
            Value::Bool(b) => Ok(Some(if *b { 1.0 } else { 0.0 })),
            other => Err(format!("score is not a number: {}", excerpt(&other.to_string()))),
        }
    }

    fn read_reasons(&self, v: &Value, reasons: &mut Vec<Arc<str>>) {
        if self.reasons.is_empty() {
            return;
        }
        let Some(value) = v.pointer(&self.reasons) else { return };
        let mut push = |r: &str| {
            if !reasons.iter().any(|x| &**x == r) {
                reasons.push(Arc::from(r));
            }
        };
        if let Some(rule) = &self.reasons_items {
            for item in value.as_array().into_iter().flatten() {
                if item.pointer(&rule.when).is_some_and(|w| flagged(w, 0.5)) {
                    if let Some(name) = item.pointer(&rule.name) {
                        push(name.as_str().map(str::to_string).unwrap_or_else(|| name.to_string()).as_str());
                    }
                }
            }
        } else if let Some(threshold) = self.reasons_keys {
            for (key, x) in value.as_object().into_iter().flatten() {
                if flagged(x, threshold) {
                    push(key);
                }
            }
        } else {
            match value {
                Value::Array(items) => {
                    for r in items {
                        push(r.as_str().map(str::to_string).unwrap_or_else(|| r.to_string()).as_str());
                    }
                }
                Value::String(s) => push(s),
                _ => {}
            }
        }
    }
}

impl TextRule {
    fn matches(&self, text: &str) -> bool {
        match self {
            TextRule::Prefix(prefix) => {
                text.trim().get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            }
            TextRule::Regex(re) => re.is_match(text),
        }
    }
}

impl AnswerMapping {
    /// A text decision: an empty text or an error text is the service
    /// failing, and with an allow rule, so is a text matching neither.
    fn read_text(&self, rule: &TextRule, text: &str, reasons: &mut Vec<Arc<str>>) -> Result<Decision, String> {
        if text.trim().is_empty() {
            return Err("the target answered an empty text: no decision".into());
        }
        if self.text_errors.iter().any(|re| re.is_match(text)) {
            return Err(format!("the target answered an error, not a decision: {}", excerpt(text)));
        }
        if rule.matches(text) {
            if let TextRule::Prefix(_) = rule {
                let codes = text.trim().lines().skip(1).flat_map(|l| l.split([',', ' ']));
                for code in codes.filter(|c| !c.trim().is_empty()) {
                    reasons.push(Arc::from(code.trim()));
                }
            }
            return Ok(Decision::Block);
        }
        match &self.text_allow {
            Some(allow) if !allow.matches(text) => {
                Err(format!("the answer is neither a block nor an allow this mapping knows: {}", excerpt(text)))
            }
            _ => Ok(Decision::Allow),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(m: &AnswerMapping, body: &str) -> Outcome {
        m.read(body, 1)
    }

    #[test]
    fn wildcards_text_rules_maxima_and_keys() {
        let v: Value = serde_json::json!({"a": [{"f": false}, {"f": true}], "o": {"x": {"f": 1}}});
        assert_eq!(resolve(&v, "/a/*/f").len(), 2);
        assert_eq!(resolve(&v, "/o/*/f"), vec![&serde_json::json!(1)]);
        assert!(resolve(&v, "/missing/*").is_empty());

        let any = AnswerMapping {
            decision_any: vec![("user".into(), "/u/hit".into()), ("doc".into(), "/d/*/hit".into())],
            score: String::new(),
            reasons: String::new(),
            ..AnswerMapping::default()
        };
        let o = read(&any, r#"{"u": {"hit": false}, "d": [{"hit": false}, {"hit": true}]}"#);
        assert_eq!((o.decision.unwrap(), o.reasons), (Decision::Block, vec![Arc::from("doc")]));
        assert_eq!(read(&any, r#"{"u": {"hit": false}, "d": []}"#).decision.unwrap(), Decision::Allow);
        assert!(read(&any, r#"{"other": 1}"#).decision.is_err(), "no flag anywhere is not an allow");

        let llama = AnswerMapping {
            decision: "/c".into(),
            decision_text: Some(TextRule::Prefix("unsafe".into())),
            score: String::new(),
            reasons: String::new(),
            ..AnswerMapping::default()
        };
        let o = read(&llama, r#"{"c": "unsafe\nS1,S10"}"#);
        assert_eq!((o.decision.unwrap(), o.reasons.len()), (Decision::Block, 2));
        assert_eq!(read(&llama, r#"{"c": " safe"}"#).decision.unwrap(), Decision::Allow);

        let openai = AnswerMapping {
            decision: "/flagged".into(),
            decision_map: [("true".to_string(), Decision::Block), ("false".to_string(), Decision::Allow)].into(),
            score: "/scores".into(),
            score_max: true,
            reasons: "/categories".into(),
            reasons_keys: Some(0.5),
            ..AnswerMapping::default()
        };
        let o = read(
            &openai,
            r#"{"flagged": true, "scores": {"a": 0.2, "b": 0.9}, "categories": {"a": false, "b": true}}"#,
        );
        assert_eq!((o.decision.unwrap(), o.score, o.reasons), (Decision::Block, Some(0.9), vec![Arc::from("b")]));
        let o = read(&openai, r#"{"error": {"message": "bad key", "type": "invalid_request_error"}}"#);
        assert!(o.decision.unwrap_err().message.contains("the target reported: bad key"));
    }
}
