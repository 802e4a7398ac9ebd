//! The target wire protocol, version 1 (documented in docs/protocol.md).
//!
//! One JSON object per line each way. Requests carry the case id, its input
//! and context — never its label or expected decision. Answers are matched
//! by id, so a target may answer out of order.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::corpus::{Case, Decision, Direction, Message, Payload};

pub const PROTOCOL_VERSION: &str = "gauntlet.target.v1";

/// A request line. Conversations use `messages` instead of `input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// `egress` for model output leaving the system; absent for prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

/// The context a target receives: the case's own, plus a `session` unique to
/// the case unless the case names one, so a stateful target (risk kept per
/// user or session) never carries state from one case into the next. Cases
/// that share a `session` on purpose test accumulation.
pub fn context_with_session(case: &Case) -> Map<String, Value> {
    let mut context = case.context.clone().unwrap_or_default();
    if !context.contains_key("session") {
        context.insert("session".into(), Value::String(format!("gauntlet:{}", case.id)));
    }
    context
}

/// Serialises [`context_with_session`] without building the map (the hot
/// path of the exec target writes one per case).
struct SessionContext<'a>(&'a Case);

impl Serialize for SessionContext<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let own = self.0.context.as_ref();
        let has_session = own.is_some_and(|c| c.contains_key("session"));
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in own.into_iter().flatten() {
            map.serialize_entry(k, v)?;
        }
        if !has_session {
            map.serialize_entry("session", &format_args!("gauntlet:{}", self.0.id))?;
        }
        map.end()
    }
}

impl Request {
    pub fn for_case(case: &Case) -> Request {
        let (input, messages) = match &case.payload {
            Payload::Text(s) => (Some(Value::String(s.clone())), None),
            Payload::Structured(m) => (Some(Value::Object(m.clone())), None),
            Payload::Conversation(m) => (None, Some(m.clone())),
        };
        let direction = (case.direction == Direction::Egress).then_some(Direction::Egress);
        Request { id: case.id.clone(), input, messages, context: Some(context_with_session(case)), direction }
    }

    /// Serialises the request for `case` as one line (with newline) into `out`,
    /// without building an intermediate value.
    pub fn write_line(case: &Case, out: &mut Vec<u8>) {
        use crate::json_string::{push_json_str, push_json_str_contents};
        // The common request, a text without its own context, by hand: the
        // same bytes as the serde path below (tested), written faster.
        if let (Payload::Text(text), None) = (&case.payload, &case.context) {
            out.extend_from_slice(b"{\"id\":");
            push_json_str(out, &case.id);
            out.extend_from_slice(b",\"input\":");
            push_json_str(out, text);
            out.extend_from_slice(b",\"context\":{\"session\":\"gauntlet:");
            push_json_str_contents(out, &case.id);
            out.extend_from_slice(b"\"}");
            if case.direction == Direction::Egress {
                out.extend_from_slice(b",\"direction\":\"egress\"");
            }
            out.extend_from_slice(b"}\n");
            return;
        }
        Self::write_line_serde(case, out);
    }

    fn write_line_serde(case: &Case, out: &mut Vec<u8>) {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            input: Option<InputRef<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            messages: Option<&'a [Message]>,
            context: SessionContext<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            direction: Option<Direction>,
        }
        #[derive(Serialize)]
        #[serde(untagged)]
        enum InputRef<'a> {
            Text(&'a str),
            Object(&'a Map<String, Value>),
        }
        let (input, messages) = match &case.payload {
            Payload::Text(s) => (Some(InputRef::Text(s)), None),
            Payload::Structured(m) => (Some(InputRef::Object(m)), None),
            Payload::Conversation(m) => (None, Some(m.as_slice())),
        };
        let direction = (case.direction == Direction::Egress).then_some(Direction::Egress);
        let line = Borrowed { id: &case.id, input, messages, context: SessionContext(case), direction };
        serde_json::to_writer(&mut *out, &line).expect("requests serialise");
        out.push(b'\n');
    }

    /// The payload a served firewall judges.
    pub fn payload(&self) -> Option<Payload> {
        match (&self.input, &self.messages) {
            (Some(Value::String(s)), None) => Some(Payload::Text(s.clone())),
            (Some(Value::Object(m)), None) => Some(Payload::Structured(m.clone())),
            (None, Some(m)) => Some(Payload::Conversation(m.clone())),
            _ => None,
        }
    }
}

/// An answer line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response<'a> {
    /// Borrowed from the line when it has no escapes: the exec target reads
    /// a million of these and copies none.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub decision: Decision,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default, borrow)]
    pub reasons: Vec<Cow<'a, str>>,
    #[serde(default, rename = "latency-us", skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// For a conversation: the index of the message at which it was blocked.
    #[serde(default, rename = "blocked-at-turn", skip_serializing_if = "Option::is_none")]
    pub blocked_at_turn: Option<u32>,
}

/// The optional first exchange, sent only when the config sets `hello = true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub hello: HelloBody,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HelloBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Cuts an offending line for an error message.
pub fn excerpt(line: &str) -> String {
    let (s, cut) = crate::text::truncate_chars(line.trim_end(), 200);
    if cut {
        format!("{s}…")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn case(context: Option<Map<String, Value>>) -> Case {
        Case { direction: Direction::Egress, context, ..Case::sample("c\"1", "hi") }
    }

    #[test]
    fn streamed_line_equals_the_request_object_and_sessions_are_per_case() {
        let mut shared = Map::new();
        shared.insert("session".into(), Value::String("user-7".into()));
        shared.insert("tenant".into(), Value::String("acme".into()));
        for c in [case(None), case(Some(shared))] {
            let mut line = Vec::new();
            Request::write_line(&c, &mut line);
            let streamed: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(streamed, serde_json::to_value(Request::for_case(&c)).unwrap());
            assert_eq!(streamed["direction"], "egress");
            assert!(streamed.get("label").is_none(), "the answer never travels");
        }
        let mut line = Vec::new();
        Request::write_line(&case(None), &mut line);
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["context"]["session"], "gauntlet:c\"1");
    }

    #[test]
    fn hand_written_request_line_is_byte_identical_to_the_serde_one() {
        for direction in [Direction::Ingress, Direction::Egress] {
            for (id, text) in
                [("gen-1", "Explain how rain forms."), ("a\"b\\c\n", "line\nbreak \"quoted\" \u{1b}[0m 炸弹 \u{7f}")]
            {
                let c = Case { direction, ..Case::sample(id, text) };
                let (mut fast, mut serde) = (Vec::new(), Vec::new());
                Request::write_line(&c, &mut fast);
                Request::write_line_serde(&c, &mut serde);
                assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(serde).unwrap());
            }
        }
    }
}
