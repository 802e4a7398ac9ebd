//! The `exec` target: persistent processes speaking the JSON-lines protocol.
//!
//! Each worker owns one process and keeps up to `window` requests in flight.
//! A reader thread drains the process's stdout into a channel while the
//! worker writes, so neither side can block the other when pipes fill.
//! Every case ends with exactly one outcome: an answer, or `timeout`
//! (the process is killed and restarted), `crash` (it died with the case in
//! flight), or `protocol` (a malformed, unknown or repeated answer, or none
//! before a clean exit). Restarts are bounded; past the budget the run is
//! marked aborted and the remaining cases are recorded as not run.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::protocol::{excerpt, Hello, HelloBody, Request, Response, PROTOCOL_VERSION};
use super::{ErrorKind, Outcome, Progress, Replayed, Target, TargetFingerprint};
use crate::corpus::Case;
use crate::errors::Error;
use crate::hashing::Fingerprint;

/// How long a freshly started process may take before its first answer
/// (loading a model, compiling rules) without its requests timing out.
const STARTUP_ALLOWANCE: Duration = Duration::from_secs(30);

/// Bytes of target stderr kept for `target-stderr.log`.
const STDERR_CAP: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct ExecConfig {
    pub command: Vec<String>,
    pub workers: usize,
    pub window: usize,
    pub timeout: Duration,
    pub max_restarts: u32,
    pub hello: bool,
    pub dir: PathBuf,
}

pub struct ExecTarget {
    config: ExecConfig,
    stderr: Arc<Mutex<StderrLog>>,
    version: Mutex<Option<String>>,
}

#[derive(Default)]
struct StderrLog {
    text: Vec<u8>,
    dropped: u64,
}

enum Event {
    /// Every line that was available at once: handled as one batch, so the
    /// worker refills the window with one write rather than one per answer.
    Lines(Vec<String>),
    Eof,
}

struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Event>,
}

impl Process {
    fn kill(mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits briefly for the exit status after stdout closed.
    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                _ => return None,
            }
        }
    }
}

/// Shared state of one replay.
struct Run<'a> {
    cases: &'a [Case],
    queue: Mutex<VecDeque<usize>>,
    restarts: AtomicU32,
    abort: Mutex<Option<String>>,
    progress: &'a dyn Progress,
}

impl Run<'_> {
    fn aborted(&self) -> bool {
        self.abort.lock().expect("abort lock").is_some()
    }

    fn next(&self) -> Option<usize> {
        if self.aborted() {
            return None;
        }
        self.queue.lock().expect("queue lock").pop_front()
    }
}

impl ExecTarget {
    pub fn new(config: ExecConfig) -> ExecTarget {
        ExecTarget { config, stderr: Arc::default(), version: Mutex::new(None) }
    }

    fn spawn(&self) -> Result<Process, String> {
        let (program, args) = self.config.command.split_first().ok_or("empty command")?;
        let mut child = Command::new(program)
            .args(args)
            .current_dir(&self.config.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::with_capacity(1 << 16, stdout);
            let mut batch = Vec::new();
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        if !batch.is_empty() {
                            let _ = tx.send(Event::Lines(batch));
                        }
                        let _ = tx.send(Event::Eof);
                        return;
                    }
                    Ok(_) => {
                        batch.push(line);
                        if reader.buffer().is_empty() && tx.send(Event::Lines(std::mem::take(&mut batch))).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let log = self.stderr.clone();
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut log = log.lock().expect("stderr lock");
                let room = STDERR_CAP.saturating_sub(log.text.len()).min(n);
                log.text.extend_from_slice(&chunk[..room]);
                log.dropped += (n - room) as u64;
            }
        });
        let mut process = Process { child, stdin: None, lines: rx };
        process.stdin = process.child.stdin.take();
        if self.config.hello {
            self.hello(&mut process)?;
        }
        Ok(process)
    }

    fn hello(&self, p: &mut Process) -> Result<(), String> {
        let hello = Hello {
            hello: HelloBody {
                protocol: Some(PROTOCOL_VERSION.into()),
                name: Some("gauntlet".into()),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            },
        };
        let mut line = serde_json::to_vec(&hello).expect("hello serialises");
        line.push(b'\n');
        let stdin = p.stdin.as_mut().expect("stdin open");
        stdin.write_all(&line).and_then(|_| stdin.flush()).map_err(|e| format!("hello: {e}"))?;
        match p.lines.recv_timeout(self.config.timeout) {
            Ok(Event::Lines(lines)) if lines.len() == 1 => {
                let l = &lines[0];
                let answer: Hello =
                    serde_json::from_str(l).map_err(|_| format!("hello: unexpected answer {}", excerpt(l)))?;
                let version =
                    [answer.hello.name, answer.hello.version].into_iter().flatten().collect::<Vec<_>>().join(" ");
                *self.version.lock().expect("version lock") = Some(version);
                Ok(())
            }
            _ => Err("hello: no answer".into()),
        }
    }

    /// One worker: one process at a time, `window` requests in flight.
    fn work(&self, run: &Run) -> Vec<(usize, Outcome)> {
        let mut done: Vec<(usize, Outcome)> = Vec::new();
        let mut answered: HashMap<String, usize> = HashMap::new(); // id -> index into `done`
        let mut process = match self.spawn() {
            Ok(p) => p,
            Err(e) => {
                self.give_up(run, e);
                return done;
            }
        };
        let window = self.config.window.max(1);
        let timeout = self.config.timeout;
        let mut process_started = Instant::now();
        let mut process_ready = false;
        let mut in_flight: HashMap<&str, (usize, Instant)> = HashMap::with_capacity(window);
        let mut order: VecDeque<usize> = VecDeque::with_capacity(window);
        let mut buf = Vec::with_capacity(window * 256);
        loop {
            while in_flight.len() < window {
                let Some(i) = run.next() else { break };
                Request::write_line(&run.cases[i], &mut buf);
                in_flight.insert(&run.cases[i].id, (i, Instant::now()));
                order.push_back(i);
            }
            if !buf.is_empty() {
                if let Some(stdin) = process.stdin.as_mut() {
                    // A write error means the process is gone; its EOF is handled below.
                    let _ = stdin.write_all(&buf).and_then(|_| stdin.flush());
                }
                buf.clear();
            }
            if in_flight.is_empty() {
                break; // queue drained (or the run was aborted)
            }
            while order.front().is_some_and(|i| !in_flight.contains_key(run.cases[*i].id.as_str())) {
                order.pop_front();
            }
            let oldest = order.front().map(|i| in_flight[run.cases[*i].id.as_str()].1).expect("in flight");
            // Until a process has answered once, its start-up time is not
            // counted against the requests waiting for it.
            let deadline = match process_ready {
                true => oldest + timeout,
                false => (oldest + timeout).max(process_started + STARTUP_ALLOWANCE),
            };
            let wait = deadline.saturating_duration_since(Instant::now());
            let record = |done: &mut Vec<(usize, Outcome)>, i: usize, outcome: Outcome| {
                run.progress.advance(1);
                done.push((i, outcome));
            };
            match process.lines.recv_timeout(wait) {
                Ok(Event::Lines(lines)) => {
                    process_ready = true;
                    for line in lines {
                        let parsed: Result<Response, _> = serde_json::from_str(&line);
                        match parsed {
                            Ok(r) => {
                                if let Some((i, sent)) = in_flight.remove(r.id.as_str()) {
                                    let latency_us = sent.elapsed().as_micros() as u64;
                                    answered.insert(r.id.clone(), done.len());
                                    let score = r.score.filter(|s| (0.0..=1.0).contains(s));
                                    let outcome = if r.score.is_some() && score.is_none() {
                                        Outcome::error(
                                            ErrorKind::Protocol,
                                            format!("score outside [0, 1]: {}", excerpt(&line)),
                                            latency_us,
                                        )
                                    } else {
                                        Outcome {
                                            decision: Ok(r.decision),
                                            score,
                                            reasons: r.reasons.into_iter().map(|s| Arc::from(s.as_str())).collect(),
                                            latency_us,
                                            target_latency_us: r.latency_us,
                                            attempts: 1,
                                            blocked_at_turn: r.blocked_at_turn,
                                        }
                                    };
                                    record(&mut done, i, outcome);
                                } else if let Some(&at) = answered.get(&r.id) {
                                    // Answered twice: the case's answer cannot be trusted.
                                    let latency = done[at].1.latency_us;
                                    done[at].1 = Outcome::error(
                                        ErrorKind::Protocol,
                                        format!("answered twice; second answer: {}", excerpt(&line)),
                                        latency,
                                    );
                                } else {
                                    self.charge_oldest(
                                        &mut in_flight,
                                        &mut order,
                                        run,
                                        &mut done,
                                        format!("answer with unknown id: {}", excerpt(&line)),
                                    );
                                }
                            }
                            Err(e) => {
                                self.charge_oldest(
                                    &mut in_flight,
                                    &mut order,
                                    run,
                                    &mut done,
                                    format!("malformed answer ({e}): {}", excerpt(&line)),
                                );
                            }
                        }
                    }
                }
                Ok(Event::Eof) | Err(RecvTimeoutError::Disconnected) => {
                    let status = process.exit_status();
                    let clean = status.is_some_and(|s| s.success());
                    let (kind, why) = if clean {
                        (ErrorKind::Protocol, "target exited cleanly without answering".to_string())
                    } else {
                        (ErrorKind::Crash, format!("target died ({}) with the case in flight", describe_status(status)))
                    };
                    for (_, (i, sent)) in in_flight.drain() {
                        record(&mut done, i, Outcome::error(kind, why.clone(), sent.elapsed().as_micros() as u64));
                    }
                    order.clear();
                    process.kill();
                    match self.restart(run, &why) {
                        Some(p) => {
                            process = p;
                            process_started = Instant::now();
                            process_ready = false;
                        }
                        None => return done,
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    let mut requeue = Vec::new();
                    for (_, (i, sent)) in in_flight.drain() {
                        // A process that never answered is hung as a whole.
                        if !process_ready || now.duration_since(sent) >= timeout {
                            record(
                                &mut done,
                                i,
                                Outcome::error(
                                    ErrorKind::Timeout,
                                    format!("no answer within {} ms", timeout.as_millis()),
                                    now.duration_since(sent).as_micros() as u64,
                                ),
                            );
                        } else {
                            requeue.push(i); // in flight behind a hung case: never answered, so replay it
                        }
                    }
                    order.clear();
                    requeue.sort_unstable();
                    let mut queue = run.queue.lock().expect("queue lock");
                    for i in requeue.into_iter().rev() {
                        queue.push_front(i);
                    }
                    drop(queue);
                    process.kill();
                    match self.restart(run, "target hung past the timeout") {
                        Some(p) => {
                            process = p;
                            process_started = Instant::now();
                            process_ready = false;
                        }
                        None => return done,
                    }
                }
            }
        }
        // Close stdin and read what is left: a late duplicate answer still
        // makes its case a protocol error; other stray lines are ignored.
        drop(process.stdin.take());
        let grace = Instant::now() + timeout.min(Duration::from_secs(2));
        while let Ok(Event::Lines(lines)) = process.lines.recv_timeout(grace.saturating_duration_since(Instant::now()))
        {
            for line in lines {
                if let Ok(r) = serde_json::from_str::<Response>(&line) {
                    if let Some(&at) = answered.get(&r.id) {
                        let latency = done[at].1.latency_us;
                        done[at].1 = Outcome::error(
                            ErrorKind::Protocol,
                            format!("answered twice; second answer: {}", excerpt(&line)),
                            latency,
                        );
                    }
                }
            }
        }
        if process.exit_status().is_none() {
            process.kill();
        }
        done
    }

    /// A line that matches no in-flight case is charged to the oldest one.
    fn charge_oldest<'c>(
        &self,
        in_flight: &mut HashMap<&'c str, (usize, Instant)>,
        order: &mut VecDeque<usize>,
        run: &Run<'c>,
        done: &mut Vec<(usize, Outcome)>,
        message: String,
    ) {
        while let Some(i) = order.pop_front() {
            if let Some((i, sent)) = in_flight.remove(run.cases[i].id.as_str()) {
                run.progress.advance(1);
                done.push((i, Outcome::error(ErrorKind::Protocol, message, sent.elapsed().as_micros() as u64)));
                return;
            }
        }
    }

    fn restart(&self, run: &Run, why: &str) -> Option<Process> {
        if run.aborted() {
            return None;
        }
        if run.restarts.fetch_add(1, Ordering::SeqCst) >= self.config.max_restarts {
            self.give_up(
                run,
                format!("target failed more than {} times (last: {why}); giving up", self.config.max_restarts),
            );
            return None;
        }
        match self.spawn() {
            Ok(p) => Some(p),
            Err(e) => {
                self.give_up(run, e);
                None
            }
        }
    }

    fn give_up(&self, run: &Run, reason: String) {
        let mut abort = run.abort.lock().expect("abort lock");
        abort.get_or_insert(reason);
    }
}

fn describe_status(status: Option<std::process::ExitStatus>) -> String {
    match status {
        Some(s) => s.to_string(),
        None => "still running after closing its output".into(),
    }
}

impl Target for ExecTarget {
    fn fingerprint(&self) -> TargetFingerprint {
        let mut f = Fingerprint::new();
        for part in &self.config.command {
            f.part(part.as_bytes());
        }
        TargetFingerprint {
            kind: "exec".into(),
            description: self.config.command.join(" "),
            version: self.version.lock().expect("version lock").clone(),
            hash: f.finish(),
        }
    }

    fn replay(&self, cases: &[Case], progress: &dyn Progress) -> Result<Replayed, Error> {
        let run = Run {
            cases,
            queue: Mutex::new((0..cases.len()).collect()),
            restarts: AtomicU32::new(0),
            abort: Mutex::new(None),
            progress,
        };
        let workers = self.config.workers.max(1).min(cases.len().max(1));
        let results: Vec<Vec<(usize, Outcome)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers).map(|_| s.spawn(|| self.work(&run))).collect();
            handles.into_iter().map(|h| h.join().expect("worker thread")).collect()
        });
        let mut outcomes: Vec<Option<Outcome>> = vec![None; cases.len()];
        for (i, outcome) in results.into_iter().flatten() {
            debug_assert!(outcomes[i].is_none(), "one outcome per case");
            outcomes[i] = Some(outcome);
        }
        let aborted = run.abort.into_inner().expect("abort lock");
        let reason = aborted.clone().unwrap_or_default();
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::error(ErrorKind::Crash, format!("not run: {reason}"), 0)))
            .collect();
        Ok(Replayed { outcomes, aborted })
    }

    fn stderr_log(&self) -> Option<String> {
        let log = self.stderr.lock().expect("stderr lock");
        if log.text.is_empty() {
            return None;
        }
        let mut text = String::from_utf8_lossy(&log.text).into_owned();
        if log.dropped > 0 {
            text.push_str(&format!("\n[gauntlet: {} more bytes of target stderr not kept]\n", log.dropped));
        }
        Some(text)
    }
}
