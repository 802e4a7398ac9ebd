//! Serving the built-in firewall over the target protocol, so the `exec`
//! and `http` adapters can be tried at once and tested against a real
//! process and a real server.
//!
//! - stdio: one request per line in, one answer per line out, in order;
//!   output is flushed whenever no more input is buffered, so a one-at-a-time
//!   client gets prompt answers, and every [`FLUSH_EVERY`] answers, so a
//!   windowed client can send more while the rest of its window is judged
//!   (flushing only when input runs dry would idle this process for one
//!   round trip per window).
//! - http: `POST /v1/gate` (one request, one answer), `GET /health`,
//!   `GET /version`.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use crate::corpus::Decision;
use crate::errors::Error;
use crate::targets::builtin::Firewall;
use std::borrow::Cow;

use crate::targets::protocol::{Hello, HelloBody, Request, Response, PROTOCOL_VERSION};

/// What answers requests: the firewall, or a fixed decision (a trivial
/// target for measuring the harness itself).
pub enum Judge {
    Firewall(Box<Firewall>),
    Always(Decision),
}

impl Judge {
    /// `gauntlet target serve`'s judge: a fixed answer, or the built-in
    /// firewall (embedded rules unless a rules file is given).
    pub fn new(
        always: Option<Decision>,
        rules: Option<std::path::PathBuf>,
        threshold: Option<f64>,
        system_prompt: Option<String>,
    ) -> Result<Judge, Error> {
        if let Some(d) = always {
            return Ok(Judge::Always(d));
        }
        let spec = crate::targets::TargetSpec {
            kind: "builtin".into(),
            rules: rules.map(|p| p.display().to_string()),
            threshold,
            system_prompt,
            ..Default::default()
        };
        Ok(Judge::Firewall(Box::new(spec.firewall(std::path::Path::new(""), None, None)?)))
    }
}

fn answer<'r>(judge: &Judge, request: &'r Request) -> Result<Response<'r>, String> {
    let payload = request.payload().ok_or("a request needs `input` (string or object) or `messages`")?;
    let firewall = match judge {
        Judge::Firewall(f) => f,
        Judge::Always(d) => {
            return Ok(Response {
                id: Cow::Borrowed(&request.id),
                decision: *d,
                score: None,
                reasons: Vec::new(),
                latency_us: None,
                blocked_at_turn: None,
            })
        }
    };
    let start = Instant::now();
    let (decision, j) = firewall.judge_payload(request.direction.unwrap_or_default(), &payload);
    Ok(Response {
        id: Cow::Borrowed(&request.id),
        decision,
        score: Some(j.score),
        reasons: j.reasons.iter().map(|r| Cow::Owned(r.to_string())).collect(),
        latency_us: Some(start.elapsed().as_micros() as u64),
        blocked_at_turn: j.turn,
    })
}

fn hello_answer() -> Hello {
    Hello {
        hello: HelloBody {
            protocol: Some(PROTOCOL_VERSION.into()),
            name: Some("gauntlet-builtin".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        },
    }
}

/// Serves stdin → stdout until stdin closes. Bad lines are reported on
/// stderr and answered with nothing (the client sees a protocol error).
/// Answers written between flushes while input is still buffered: small
/// enough that a client's window of 64 refills four times per pass, large
/// enough that the write calls cost little next to the judging.
const FLUSH_EVERY: usize = 16;

pub fn serve_stdio(firewall: &Judge) -> Result<(), Error> {
    let stdin = std::io::stdin();
    let mut reader = BufReader::with_capacity(1 << 16, stdin.lock());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = String::new();
    let io = |e: std::io::Error| Error::io(std::path::Path::new("<stdio>"), e);
    let mut unflushed = 0;
    loop {
        if reader.buffer().is_empty() || unflushed >= FLUSH_EVERY {
            out.flush().map_err(io)?;
            unflushed = 0;
        }
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Ok(request) = serde_json::from_str::<Request>(&line) {
            match answer(firewall, &request) {
                Ok(r) => serde_json::to_writer(&mut out, &r).expect("answers serialise"),
                Err(e) => {
                    eprintln!("gauntlet serve: {e}");
                    continue;
                }
            }
        } else if serde_json::from_str::<Hello>(&line).is_ok() {
            serde_json::to_writer(&mut out, &hello_answer()).expect("hello serialises");
        } else {
            eprintln!("gauntlet serve: not a protocol request: {}", crate::targets::protocol::excerpt(&line));
            continue;
        }
        out.write_all(b"\n").map_err(io)?;
        unflushed += 1;
    }
    out.flush().map_err(io)
}

/// Serves HTTP/1.1 on `addr`, one thread per connection with keep-alive.
/// Prints `listening on http://ADDR` (with the real port when 0 was asked).
///
/// A deliberately small server: tiny_http 0.12 stalled some keep-alive
/// requests for seconds under 8+ concurrent connections here (lost
/// wake-ups in its connection pool), which a harness measuring latency
/// cannot accept. This handles exactly what the protocol needs:
/// Content-Length bodies, no chunked requests, no pipelining surprises.
pub fn serve_http(firewall: Arc<Judge>, addr: &str) -> Result<(), Error> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|e| Error::Usage(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().map_err(|e| Error::Usage(e.to_string()))?;
    println!("listening on http://{local}");
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let firewall = firewall.clone();
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let _ = connection(&firewall, stream);
        });
    }
    Ok(())
}

/// Largest request body accepted.
const MAX_BODY: usize = 16 << 20;

fn connection(firewall: &Judge, stream: std::net::TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = std::io::BufWriter::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut content_length = 0usize;
        let mut close = request_line.trim_end().ends_with("HTTP/1.0");
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.parse().unwrap_or(usize::MAX);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        let (status, body) = if content_length > MAX_BODY {
            close = true;
            (413, r#"{"error":"body too large"}"#.to_string())
        } else {
            let mut body = vec![0u8; content_length];
            reader.read_exact(&mut body)?;
            route(firewall, &method, &path, &body)
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            _ => "Payload Too Large",
        };
        write!(
            writer,
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        )?;
        writer.flush()?;
        if close {
            return Ok(());
        }
    }
}

fn route(firewall: &Judge, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    match (method, path) {
        ("POST", "/v1/gate") => {
            let answered = serde_json::from_slice::<Request>(body)
                .map_err(|e| e.to_string())
                .and_then(|r| answer(firewall, &r).map(|a| serde_json::to_string(&a).expect("answers serialise")));
            match answered {
                Ok(json) => (200, json),
                Err(e) => (400, serde_json::json!({ "error": e }).to_string()),
            }
        }
        ("GET", "/health") => (200, r#"{"status":"ok"}"#.into()),
        ("GET", "/version") => (200, serde_json::to_string(&hello_answer().hello).expect("json")),
        _ => (404, r#"{"error":"not found"}"#.into()),
    }
}
