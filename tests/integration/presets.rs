//! Contract tests for the guard-API presets: a loopback server answers in
//! each API's documented shape (a clean answer, a block, an error answer, a
//! 429 with Retry-After), and the run must read each one right. The key
//! goes out in the provider's header and never comes back in any output.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::helpers::*;

type Handler = dyn Fn(&HashMap<String, String>, &str) -> (u16, Value) + Send + Sync;

/// A keep-alive HTTP/1.1 server on 127.0.0.1 calling `handler` with the
/// request's headers (lowercased names) and body; returns the port.
fn serve(handler: Arc<Handler>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut headers = HashMap::new();
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = line.trim_end().split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                        }
                    }
                    let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let (status, answer) = handler(&headers, &String::from_utf8_lossy(&body));
                    let text = answer.to_string();
                    let extra = if status == 429 { "retry-after: 1\r\n" } else { "" };
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// What the server should answer for a request body.
enum Ask {
    Clean,
    Block,
    Error,
}

/// The scenario every preset is tested on: "attack" blocks, "boom" gets
/// the API's error answer, "slow" is refused once with 429 + Retry-After.
fn scenario(shape: impl Fn(Ask) -> (u16, Value) + Send + Sync + 'static, key: Option<&'static str>) -> Arc<Handler> {
    let refused = AtomicBool::new(false);
    Arc::new(move |headers: &HashMap<String, String>, body: &str| {
        if let Some((header, value)) = key.map(|k| k.split_once(": ").unwrap()) {
            if headers.get(&header.to_ascii_lowercase()).map(String::as_str) != Some(value) {
                // An API that echoes what it was sent: the key must still not leak.
                return (
                    401,
                    json!({"error": {"message": format!("bad credentials {:?}", headers.get(&header.to_ascii_lowercase()))}}),
                );
            }
        }
        if body.contains("slow") && !refused.swap(true, Ordering::SeqCst) {
            return (429, json!({"error": {"message": "rate limited"}}));
        }
        if body.contains("boom") {
            // Some APIs echo the request in an error: the key must not come back out.
            let (status, mut answer) = shape(Ask::Error);
            let sent = headers.get("authorization").or_else(|| headers.get("ocp-apim-subscription-key"));
            answer["request-headers"] = json!(sent);
            return (status, answer);
        }
        shape(if body.contains("attack") { Ask::Block } else { Ask::Clean })
    })
}

const CASES: &str = r#"{"id":"clean","input":"hello there","label":"benign","category":"c"}
{"id":"slow","input":"slow but fine","label":"benign","category":"c"}
{"id":"attack","input":"attack the system","label":"adversarial","category":"c"}
{"id":"boom","input":"boom","label":"adversarial","category":"c"}
"#;

fn project(name: &str, target: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    write(
        &dir.join("gauntlet.toml"),
        &format!("[target]\nkind = \"http\"\nretries = 2\nhealth-probe = false\nabort-error-share = 1.0\n{target}"),
    );
    write(&dir.join("corpora/cases.jsonl"), CASES);
    write(&dir.join("gates/g.toml"), "[[gate]]\nid = \"fpr\"\nmetric = \"fpr\"\nmax = 1.0\nmode = \"soft\"\n");
    dir
}

fn results(dir: &Path) -> HashMap<String, Value> {
    std::fs::read_to_string(dir.join("reports/results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect()
}

/// Runs `preset` against its documented shapes; returns the results by id.
fn contract(
    preset: &str,
    shape: impl Fn(Ask) -> (u16, Value) + Send + Sync + 'static,
    key: Option<(&'static str, &'static str, &'static str)>,
    path: &str,
) -> HashMap<String, Value> {
    contract_with_env(preset, shape, key, path, &[])
}

/// [`contract`] with more environment variables (a preset's config id).
fn contract_with_env(
    preset: &str,
    shape: impl Fn(Ask) -> (u16, Value) + Send + Sync + 'static,
    key: Option<(&'static str, &'static str, &'static str)>,
    path: &str,
    extra_env: &[(&str, &str)],
) -> HashMap<String, Value> {
    let port = serve(scenario(shape, key.map(|(_, header, _)| header)));
    // One project per test: two contracts of one preset run side by side.
    let test = std::thread::current().name().unwrap_or("main").rsplit("::").next().unwrap_or("main").to_string();
    let dir = project(
        &format!("preset-{preset}-{test}"),
        &format!("preset = \"{preset}\"\nurl = \"http://127.0.0.1:{port}{path}\"\n"),
    );
    let mut env: Vec<(&str, &str)> = key.map(|(var, _, value)| vec![(var, value)]).unwrap_or_default();
    env.extend_from_slice(extra_env);
    let out = gauntlet_with_env(&["run", "--quiet"], &dir, &env);
    assert!(matches!(out.code(), Some(0) | Some(1)), "{preset}: {}{}", stdout(&out), stderr(&out));
    let r = results(&dir);
    assert_eq!(r["clean"]["decision"], "allow", "{preset}: {}", r["clean"]);
    assert_eq!(r["slow"]["decision"], "allow", "{preset}: {}", r["slow"]);
    assert_eq!(r["slow"]["attempts"], 2, "{preset}: a 429 is retried after Retry-After");
    assert_eq!(r["attack"]["decision"], "block", "{preset}: {}", r["attack"]);
    assert!(r["boom"]["decision"].is_null() && r["boom"]["error"].is_object(), "{preset}: {}", r["boom"]);
    if let Some((_, _, value)) = key {
        let secret = value.rsplit(' ').next().unwrap();
        assert_no_secret(&dir, secret, &[stdout(&out), stderr(&out)]);
    }
    r
}

/// No file under `dir` and no given output holds `secret`.
fn assert_no_secret(dir: &Path, secret: &str, outputs: &[String]) {
    for o in outputs {
        assert!(!o.contains(secret), "the key leaked into the output: {o}");
    }
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten().filter(|e| e.file_type().is_file()) {
        let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned();
        if entry.file_name() != "gauntlet.toml" {
            assert!(!text.contains(secret), "the key leaked into {}", entry.path().display());
        }
    }
}

#[test]
fn openai_moderation_contract() {
    let r = contract(
        "openai-moderation",
        |ask| match ask {
            Ask::Clean => (
                200,
                json!({"id": "modr-1", "model": "omni-moderation-latest", "results": [{"flagged": false, "categories": {"violence": false, "harassment": false}, "category_scores": {"violence": 0.01, "harassment": 0.002}}]}),
            ),
            Ask::Block => (
                200,
                json!({"id": "modr-2", "model": "omni-moderation-latest", "results": [{"flagged": true, "categories": {"violence": true, "harassment": false}, "category_scores": {"violence": 0.93, "harassment": 0.04}}]}),
            ),
            Ask::Error => (
                400,
                json!({"error": {"message": "Invalid input", "type": "invalid_request_error", "param": null, "code": null}}),
            ),
        },
        Some(("OPENAI_API_KEY", "Authorization: Bearer sk-test-LEAKCANARY-1", "sk-test-LEAKCANARY-1")),
        "/v1/moderations",
    );
    assert_eq!((r["attack"]["score"].as_f64(), &r["attack"]["reasons"]), (Some(0.93), &json!(["violence"])));
}

#[test]
fn azure_prompt_shields_contract() {
    let r = contract(
        "azure-prompt-shields",
        |ask| match ask {
            Ask::Clean => (200, json!({"userPromptAnalysis": {"attackDetected": false}, "documentsAnalysis": []})),
            Ask::Block => (200, json!({"userPromptAnalysis": {"attackDetected": true}, "documentsAnalysis": []})),
            Ask::Error => {
                (401, json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key."}}))
            }
        },
        Some(("AZURE_CONTENT_SAFETY_KEY", "Ocp-Apim-Subscription-Key: LEAKCANARY-2", "LEAKCANARY-2")),
        "/contentsafety/text:shieldPrompt?api-version=2024-09-01",
    );
    assert_eq!(r["attack"]["reasons"], json!(["user-prompt-attack"]));
}

#[test]
fn lakera_guard_contract() {
    let detector = |detected: bool| json!([{"project_id": "p", "policy_id": "q", "detector_id": "d", "detector_type": "prompt_attack", "detected": detected, "message_id": 0}]);
    let r = contract(
        "lakera-guard",
        move |ask| match ask {
            Ask::Clean => {
                (200, json!({"flagged": false, "metadata": {"request_uuid": "u1"}, "breakdown": detector(false)}))
            }
            Ask::Block => {
                (200, json!({"flagged": true, "metadata": {"request_uuid": "u2"}, "breakdown": detector(true)}))
            }
            Ask::Error => (400, json!({"error": "Invalid request"})),
        },
        Some(("LAKERA_GUARD_API_KEY", "Authorization: Bearer LEAKCANARY-3", "LEAKCANARY-3")),
        "/v2/guard",
    );
    assert_eq!(r["attack"]["reasons"], json!(["prompt_attack"]));
}

#[test]
fn llm_guard_api_contract() {
    let r = contract(
        "llm-guard-api",
        |ask| match ask {
            Ask::Clean => (
                200,
                json!({"sanitized_prompt": "hello there", "is_valid": true, "scanners": {"PromptInjection": 0.0, "Toxicity": -1.0}}),
            ),
            Ask::Block => (
                200,
                json!({"sanitized_prompt": "attack the system", "is_valid": false, "scanners": {"PromptInjection": 1.0, "Toxicity": 0.1}}),
            ),
            Ask::Error => (401, json!({"detail": "Invalid token"})),
        },
        None,
        "/analyze/prompt",
    );
    // Scores run -1..1: mapped linearly (0 is the middle); a reason is a
    // scanner whose risk is above 0, as the client reads it.
    assert_eq!(
        (r["attack"]["score"].as_f64(), &r["attack"]["reasons"]),
        (Some(1.0), &json!(["PromptInjection", "Toxicity"]))
    );
    assert_eq!(r["clean"]["score"].as_f64(), Some(0.5), "a scanner at 0 is the middle of -1..1");
    assert_eq!(r["clean"]["reasons"], json!([]), "{}", r["clean"]);
}

fn chat(content: &str) -> Value {
    json!({"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]})
}

/// A model without Llama Guard's template answers in prose: neither
/// `safe` nor `unsafe` is a target error, never an allow.
#[test]
fn llama_guard_contract() {
    let r = contract(
        "llama-guard",
        |ask| match ask {
            Ask::Clean => (200, chat("safe")),
            Ask::Block => (200, chat("unsafe\nS1,S9")),
            Ask::Error => (200, chat("I'm happy to help! Here is some information about your question.")),
        },
        None,
        "/v1/chat/completions",
    );
    assert_eq!(r["attack"]["reasons"], json!(["S1", "S9"]));
    let message = r["boom"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("neither a block nor an allow"), "{message}");
}

/// NeMo Guardrails answers 200 with a normal completion whose text is
/// "Internal server error" when anything fails: an error, never an allow.
#[test]
fn nemo_guardrails_contract() {
    let r = contract_with_env(
        "nemo-guardrails",
        |ask| match ask {
            Ask::Clean => (200, chat("Hello! How can I help you today?")),
            Ask::Block => (200, chat("I'm sorry, I can't respond to that.")),
            Ask::Error => (200, chat("Internal server error")),
        },
        None,
        "/v1/chat/completions",
        &[("NEMO_GUARDRAILS_CONFIG_ID", "my-rails")],
    );
    assert_eq!(r["boom"]["error"]["kind"], "target", "{}", r["boom"]);
    // No made-up config id: without the variable the run stops at start.
    let dir = project(
        "preset-nemo-no-config",
        "preset = \"nemo-guardrails\"\nurl = \"http://127.0.0.1:9/v1/chat/completions\"\n",
    );
    let out = gauntlet(&["check", "--offline"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(
        stderr(&out).contains("error[missing-env]") && stderr(&out).contains("NEMO_GUARDRAILS_CONFIG_ID"),
        "{}",
        stderr(&out)
    );
}

/// A NeMo answer carrying the activated-rails log (asked for with
/// `options.log.activated_rails`, as the v0.23–v0.25 server API documents):
/// the rail that stopped decides, so a config with its own refusal wording
/// still blocks, with the rail's name as the reason.
#[test]
fn nemo_guardrails_reads_the_activated_rails_log_over_the_refusal_text() {
    let with_log = |content: &str, stopped: bool| {
        let mut answer = chat(content);
        answer["guardrails"] = json!({"config_id": "my-rails", "log": {"activated_rails": [
            {"type": "input", "name": "self check input", "decisions": ["execute self_check_input"], "stop": stopped},
            {"type": "generation", "name": "generate user intent", "decisions": [], "stop": false}
        ]}});
        answer
    };
    let r = contract_with_env(
        "nemo-guardrails",
        move |ask| match ask {
            Ask::Clean => (200, with_log("Hello! How can I help you today?", false)),
            Ask::Block => (200, with_log("Our policy does not allow this request.", true)),
            Ask::Error => (200, chat("Internal server error.")),
        },
        None,
        "/v1/chat/completions",
        &[("NEMO_GUARDRAILS_CONFIG_ID", "my-rails")],
    );
    assert_eq!(r["attack"]["reasons"], json!(["self check input"]), "{}", r["attack"]);
    assert_eq!(r["boom"]["error"]["kind"], "target", "{}", r["boom"]);
}

/// The canary: a mapping that reads every answer as allow (here NeMo's
/// error page inside a normal completion would have; a server that lets
/// everything through does) stops the run with exit 3 naming the answer,
/// before any case; a gate that blocks the must-block case runs.
#[test]
fn the_canary_stops_a_gate_that_can_never_block() {
    let port = serve(Arc::new(|_: &HashMap<String, String>, _: &str| {
        (
            200,
            json!({"results": [{"flagged": false, "categories": {"violence": false}, "category_scores": {"violence": 0.01}}]}),
        )
    }));
    let dir = scratch("canary-never-blocks");
    write(&dir.join("gauntlet.toml"), &format!("[target]\nkind = \"http\"\npreset = \"openai-moderation\"\nurl = \"http://127.0.0.1:{port}/v1/moderations\"\n"));
    write(&dir.join("corpora/cases.jsonl"), CASES);
    write(&dir.join("gates/g.toml"), "[[gate]]\nid = \"fpr\"\nmetric = \"fpr\"\nmax = 1.0\n");
    let out = gauntlet_with_env(&["run", "--quiet"], &dir, &[("OPENAI_API_KEY", "k")]);
    assert_eq!(out.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("canary: the must-block case") && err.contains("was answered `allow`"), "{err}");
    assert!(!dir.join("reports/verdict.json").exists(), "no verdict from a gate that cannot block");
    // `check` says the same; `canary = false` is the way out for a gate that is that weak.
    let out = gauntlet_with_env(&["check"], &dir, &[("OPENAI_API_KEY", "k")]);
    assert_eq!(out.code(), Some(3), "{}", stderr(&out));
    let config = std::fs::read_to_string(dir.join("gauntlet.toml")).unwrap();
    write(&dir.join("gauntlet.toml"), &format!("{config}canary = false\n"));
    let out = gauntlet_with_env(&["run", "--quiet"], &dir, &[("OPENAI_API_KEY", "k")]);
    assert!(matches!(out.code(), Some(0 | 1)), "{}", stderr(&out));

    // An exec or plain http target opts in by naming its canaries.
    let port = serve(Arc::new(|_: &HashMap<String, String>, body: &str| {
        (200, json!({"decision": if body.contains("kill") { "block" } else { "allow" }}))
    }));
    write(
        &dir.join("gauntlet.toml"),
        &format!(
            "[target]\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/judge\"\ncanary-block = \"I will kill you\"\n"
        ),
    );
    let out = gauntlet(&["run", "--quiet", "--dry-run"], &dir);
    assert!(stdout(&out).contains("+ 1 health probe + 2 canary cases"), "{}", stdout(&out));
    assert_eq!(out.code(), Some(0));
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert!(matches!(out.code(), Some(0 | 1)), "{}", stderr(&out));
}

/// A kind of case the preset's API cannot take stops the run at start,
/// at the case's line; a missing key stops it too, naming the variable.
#[test]
fn presets_refuse_cases_they_cannot_send_and_need_their_key() {
    let dir = project("preset-kinds", "preset = \"azure-prompt-shields\"\nurl = \"http://127.0.0.1:9/x\"\n");
    write(
        &dir.join("corpora/talk.jsonl"),
        "{\"id\":\"t1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"label\":\"benign\",\"category\":\"c\"}\n",
    );
    let out = gauntlet_with_env(&["run", "--quiet"], &dir, &[("AZURE_CONTENT_SAFETY_KEY", "k")]);
    assert_eq!(out.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("talk.jsonl:1: error[unsupported-case-kind]")
            && stderr(&out).contains("preset `azure-prompt-shields` cannot send conversations"),
        "{}",
        stderr(&out)
    );
    // Prompt Shields takes at most 10,000 characters: a longer case is
    // refused at its line before any request (the API would answer 400).
    let long = project("preset-long", "preset = \"azure-prompt-shields\"\nurl = \"http://127.0.0.1:9/x\"\n");
    write(
        &long.join("corpora/long.jsonl"),
        &format!("{{\"id\":\"l1\",\"input\":\"{}\",\"label\":\"benign\",\"category\":\"c\"}}\n", "a".repeat(10_001)),
    );
    let out = gauntlet_with_env(&["check", "--offline"], &long, &[("AZURE_CONTENT_SAFETY_KEY", "k")]);
    assert_eq!(out.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("long.jsonl:1: error[unsupported-case-kind]")
            && stderr(&out).contains("10001 characters"),
        "{}",
        stderr(&out)
    );
    let keyless = project("preset-keyless", "preset = \"openai-moderation\"\n");
    let out = gauntlet(&["check", "--offline"], &keyless);
    if std::env::var_os("OPENAI_API_KEY").is_none() {
        assert_eq!(out.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("error[missing-env]") && stderr(&out).contains("OPENAI_API_KEY"),
            "{}",
            stderr(&out)
        );
    }
    let unknown = project("preset-unknown", "preset = \"openai-moderations\"\nurl = \"http://127.0.0.1:9/x\"\n");
    let out = gauntlet(&["check", "--offline"], &unknown);
    assert_eq!(out.code(), Some(2));
    assert!(
        stderr(&out).contains("error[unknown-preset]") && stderr(&out).contains("openai-moderation"),
        "{}",
        stderr(&out)
    );
}

/// A 429 pauses every connection for its Retry-After (the run is too
/// fast, not one request), and the verdict says how long the run waited.
#[test]
fn a_429_slows_the_whole_run_and_the_verdict_says_for_how_long() {
    let refused = AtomicBool::new(false);
    let port = serve(Arc::new(move |_: &HashMap<String, String>, body: &str| {
        // (The untimed GET /version has no body.)
        if !body.is_empty() && !refused.swap(true, Ordering::SeqCst) {
            return (429, json!({"error": "slow down"}));
        }
        (200, json!({"decision": "allow"}))
    }));
    let dir =
        project("rate-429", &format!("url = \"http://127.0.0.1:{port}/judge\"\nconcurrency = 4\nrate-limit = 1000\n"));
    // Ten cases per connection: when the 429 comes back the other three
    // still have cases to send (with one each, a busy machine let them
    // finish before it arrived, and only one connection waited).
    let cases: String = (0..40)
        .map(|i| format!("{{\"id\":\"c{i}\",\"input\":\"hello {i}\",\"label\":\"benign\",\"category\":\"x\"}}\n"))
        .collect();
    write(&dir.join("corpora/cases.jsonl"), &cases);
    let out = gauntlet(&["run"], &dir);
    assert!(matches!(out.code(), Some(0) | Some(1)), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("throttled: requests waited"), "{}", stdout(&out));
    let verdict = read_json(&dir.join("reports/verdict.json"));
    let waited = verdict["run"]["target"]["throttled-ms"].as_u64().unwrap();
    // Every connection waited out the second, not only the refused request.
    assert!(waited >= 2000, "{waited} ms");
    assert_eq!(results(&dir).values().filter(|r| r["decision"] == "allow").count(), 40);
}

/// `--dry-run` counts what a run would send and what it would cost, and
/// sends nothing; a plan over `max-requests` or `max-cost` stops before
/// the first request (exit 2, not the exit 3 an unreachable target gives).
#[test]
fn dry_run_counts_requests_and_cost_and_budgets_stop_a_run_before_it_sends() {
    let target = "url = \"http://127.0.0.1:9/judge\"\ncost = 0.01\n";
    let dir = project("budget-dry-run", target);
    let out = gauntlet(&["run", "--dry-run"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("dry run: 4 requests = 4 corpus cases (0 of them variants)"), "{}", stdout(&out));
    assert!(stdout(&out).contains("cost: 0.0400 (4 × 0.01 per request)"), "{}", stdout(&out));
    let out = gauntlet(&["run", "--dry-run", "--repeat", "3", "--check-determinism"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("dry run: 24 requests"), "4 cases x 3 repeats x 2 passes: {}", stdout(&out));
    assert!(!dir.join("reports").exists(), "a dry run writes no report");

    let capped = project("budget-max-requests", &format!("{target}max-requests = 10\n"));
    let out = gauntlet(&["run", "--repeat", "3"], &capped);
    assert_eq!(out.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("gauntlet.toml:8:1:")
            && stderr(&out).contains("error[budget-exceeded]")
            && stderr(&out).contains("12 requests, over max-requests = 10"),
        "{}",
        stderr(&out)
    );
    let priced = project("budget-max-cost", &format!("{target}max-cost = 0.03\n"));
    let out = gauntlet(&["run"], &priced);
    assert_eq!(out.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("would cost 0.0400") && stderr(&out).contains("max-cost = 0.03"), "{}", stderr(&out));
}

/// A Llama-Guard-like server that enforces its chat template's rule (no
/// system turn; user first; roles alternate; else 400, as vLLM answers)
/// answers every bundled prompt, egress case and conversation: the
/// preset shapes each case into what the template accepts.
#[test]
fn llama_guard_shapes_every_bundled_case_for_the_template() {
    let port = serve(Arc::new(|_: &HashMap<String, String>, body: &str| {
        let request: Value = serde_json::from_str(body).unwrap_or_default();
        let messages = request["messages"].as_array().cloned().unwrap_or_default();
        let alternates = !messages.is_empty()
            && messages.iter().enumerate().all(|(i, m)| m["role"] == if i % 2 == 0 { "user" } else { "assistant" });
        if !alternates {
            let message = "Conversation roles must alternate user/assistant/user/assistant/...";
            return (400, json!({"error": {"message": message, "type": "BadRequestError"}}));
        }
        let text = body.to_lowercase();
        (200, chat(if text.contains("bomb") || text.contains("ignore") { "unsafe\nS9" } else { "safe" }))
    }));
    let dir = scratch("preset-llama-template");
    for sub in ["bundled", "conversations", "egress"] {
        copy_tree(&repo_root().join("corpora").join(sub), &dir.join("corpora").join(sub));
    }
    write(
        &dir.join("gauntlet.toml"),
        &format!("[target]\nkind = \"http\"\npreset = \"llama-guard\"\nurl = \"http://127.0.0.1:{port}/v1/chat/completions\"\n\n[run]\ncorpora = [\"corpora\"]\ngates = \"gates\"\nreports = \"reports\"\n"),
    );
    write(
        &dir.join("gates/g.toml"),
        "[[gate]]\nid = \"no-errors\"\nmetric = \"error-rate\"\nmax = 0.0\nbound = \"point\"\n",
    );
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert!(matches!(out.code(), Some(0 | 1)), "{}{}", stdout(&out), stderr(&out));
    let r = results(&dir);
    let errors: Vec<&Value> = r.values().filter(|x| !x["error"].is_null()).collect();
    assert!(errors.is_empty(), "{} of {} cases errored, e.g. {:#}", errors.len(), r.len(), errors.first().unwrap());
    assert!(r.len() > 700, "{}", r.len());
}
