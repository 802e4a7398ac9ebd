//! The `exec` target: persistent processes speaking the JSON-lines protocol.
//!
//! Each worker owns one process and keeps up to `window` requests in flight.
//! [`pipes`] moves the bytes so that neither pipe can block the other when
//! both fill; the worker matches answers (in order first, by id when the
//! target answers out of order) and sends the next requests.
//! Every case ends with exactly one outcome: an answer, or `timeout`
//! (the process is killed and restarted), `crash` (it died with the case in
//! flight), or `protocol` (a malformed, unknown or repeated answer, or none
//! before a clean exit). Restarts are bounded; past the budget the run is
//! marked aborted and the remaining cases are recorded as not run.

mod answers;
mod in_flight;
mod pipes;
mod probe;
mod restart;

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use answers::{Answer, BatchClock, Life};
use in_flight::{Done, InFlight, Pace};
use pipes::{Pipes, Wait};
use probe::Probe;
use restart::Restart;

use super::protocol::{excerpt, Hello, HelloBody, Request, Response, PROTOCOL_VERSION};
use super::{ErrorKind, LatencyMethod, Outcome, ReplayProgress, Replayed, Restarts, Target, TargetFingerprint};
use crate::corpus::Case;
use crate::errors::Error;
use crate::hashing::Fingerprint;

/// How long a freshly started process may take before its first answer
/// (loading a model, compiling rules) without its requests timing out,
/// unless the config sets `startup-ms`.
pub const DEFAULT_STARTUP: Duration = Duration::from_secs(30);

/// How long a process may write nothing while cases are in flight before
/// it counts as hung, unless the config sets `hang-ms`: ten timeouts, and
/// never less than the start-up allowance.
pub fn default_hang(timeout: Duration) -> Duration {
    (timeout * 10).max(DEFAULT_STARTUP)
}

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
    /// How long a fresh process may take to give its first answer (loading a
    /// model or rules) before it counts as hung: `startup-ms`.
    pub startup: Duration,
    /// A process that writes nothing for this long while cases are in
    /// flight is hung: killed and restarted (`hang-ms`).
    pub hang: Duration,
}

pub struct ExecTarget {
    config: ExecConfig,
    stderr: Arc<Mutex<StderrLog>>,
    version: Mutex<Option<String>>,
    probe: Mutex<Probe>,
    /// Reader and writer threads instead of `poll` (the only way off unix);
    /// set by tests so both ways stay exercised.
    threads: bool,
    /// What starting a process last cost, until its first answer (the
    /// probe's, when there is one), in microseconds: how long a worker waits
    /// for a timed-out case's late answer before a restart is cheaper.
    restart_cost_us: AtomicU64,
    /// Restarts after crashes and hangs (counted against `max-restarts`).
    failures: AtomicU32,
    /// Restarts that freed the cases queued behind a timed-out one.
    timeout_restarts: AtomicU32,
    /// Some process answered out of order: its latencies ran from the send.
    out_of_order: AtomicBool,
    /// Answers of a fast target were read in gathered batches: latencies
    /// are exact to within `Pace::READ_EVERY`.
    gathered: AtomicBool,
}

#[derive(Default)]
struct StderrLog {
    text: Vec<u8>,
    dropped: u64,
}

struct Process {
    child: Child,
    pipes: Pipes,
    /// It answered the health probe before its first case.
    probed: bool,
}

impl Process {
    fn kill(mut self) {
        self.pipes.close_input();
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
    ids: std::sync::OnceLock<HashMap<&'a str, usize>>,
    queue: Mutex<VecDeque<usize>>,
    restarts: AtomicU32,
    abort: Mutex<Option<String>>,
    progress: &'a dyn ReplayProgress,
}

impl Run<'_> {
    /// A worker gave up, or the run's abort rule holds: no case is sent.
    fn aborted(&self) -> bool {
        if self.abort.lock().expect("abort lock").is_some() {
            return true;
        }
        match self.progress.halted() {
            Some(reason) => {
                self.abort.lock().expect("abort lock").get_or_insert(reason);
                true
            }
            None => false,
        }
    }

    /// Moves up to `n` cases from the queue to `out` (one lock for all).
    fn take(&self, n: usize, out: &mut Vec<usize>) {
        if n == 0 || self.aborted() {
            return;
        }
        let mut queue = self.queue.lock().expect("queue lock");
        let n = self.progress.reserve(n.min(queue.len()) as u64) as usize;
        out.extend(queue.drain(..n));
    }

    /// The case with this id. Built on first use: only a misbehaving target
    /// (an unknown or repeated id) ever needs it.
    fn case_with_id(&self, id: &str) -> Option<usize> {
        self.ids
            .get_or_init(|| self.cases.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect())
            .get(id)
            .copied()
    }
}

impl ExecTarget {
    pub fn new(config: ExecConfig) -> ExecTarget {
        ExecTarget {
            config,
            stderr: Arc::default(),
            version: Mutex::new(None),
            probe: Mutex::default(),
            threads: false,
            restart_cost_us: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            timeout_restarts: AtomicU32::new(0),
            out_of_order: AtomicBool::new(false),
            gathered: AtomicBool::new(false),
        }
    }

    fn latency_method(&self) -> LatencyMethod {
        match self.out_of_order.load(Ordering::Relaxed) {
            true => LatencyMethod::ServiceTimeAndSendToAnswer,
            false => LatencyMethod::ServiceTime,
        }
    }

    /// The restarts so far; `None` when there were none.
    fn restarts(&self) -> Option<Restarts> {
        let r = Restarts {
            failures: self.failures.load(Ordering::Relaxed),
            timeouts: self.timeout_restarts.load(Ordering::Relaxed),
        };
        (r != Restarts::default()).then_some(r)
    }

    fn spawn(&self) -> Result<Process, String> {
        let started = Instant::now();
        let (program, args) = self.config.command.split_first().ok_or("empty command")?;
        let mut command = Command::new(program);
        // An adapter may call gauntlet back (the scaffold's stand-in gate does).
        if let Ok(exe) = std::env::current_exe() {
            command.env("GAUNTLET_BIN", exe);
        }
        let mut child = command
            .args(args)
            .current_dir(&self.config.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
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
        let stdin = child.stdin.take().expect("piped");
        let pipes = match Pipes::new(stdin, stdout, self.threads) {
            Ok(pipes) => pipes,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot set up pipes to `{program}`: {e}"));
            }
        };
        let mut process = Process { child, pipes, probed: false };
        if self.config.hello {
            if let Err(e) = self.hello(&mut process.pipes) {
                process.kill();
                return Err(e);
            }
        }
        let probe = self.probe.lock().expect("probe lock").request.clone();
        if let Some(request) = probe {
            if let Err(e) = self.answer_probe(&mut process, &request) {
                process.kill();
                return Err(format!("health probe: {e}"));
            }
            process.probed = true;
            self.note_restart_cost(started.elapsed());
        }
        Ok(process)
    }

    fn hello(&self, pipes: &mut Pipes) -> Result<(), String> {
        let hello = Hello {
            hello: HelloBody {
                protocol: Some(PROTOCOL_VERSION.into()),
                name: Some("gauntlet".into()),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            },
        };
        let mut line = serde_json::to_vec(&hello).expect("hello serialises");
        line.push(b'\n');
        pipes.send(&line);
        // The hello is the process's first answer: like the first requests,
        // it may wait out the start-up (a target loading its model or rules).
        let mut incoming = Vec::new();
        match pipes.wait(&mut incoming, Instant::now() + self.config.timeout.max(self.config.startup)) {
            Wait::Lines if incoming.iter().filter(|&&b| b == b'\n').count() == 1 => {
                let l = &String::from_utf8_lossy(&incoming).into_owned();
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
        let mut done = Done {
            outcomes: Vec::new(),
            position: vec![0; run.cases.len()],
            unreported: 0,
            unreported_failed: 0,
            late: Default::default(),
            strays: VecDeque::new(),
            told: 0,
            changed: Vec::new(),
        };
        let warm = self.probe.lock().expect("probe lock").warm.take();
        let mut process = match warm.map_or_else(|| self.spawn(), Ok) {
            Ok(p) => p,
            Err(e) => {
                self.give_up(run, e);
                return done.outcomes;
            }
        };
        let window = self.config.window.max(1);
        let timeout = self.config.timeout;
        let hang = self.config.hang;
        let mut life = Life::new(&process);
        let mut in_flight = InFlight::new(window);
        let mut pace = Pace::new(window, timeout);
        let mut buf = Vec::with_capacity(window * 256);
        let mut incoming = Vec::with_capacity(1 << 16);
        let mut next = Vec::with_capacity(window);
        let mut reasons: HashMap<String, Arc<str>> = HashMap::new();
        // When this worker last read a line from any of its processes. A
        // worker whose processes stay silent for `hang` with cases in flight,
        // across timeout restarts, has a hung target: its restarts count.
        let mut heard = Instant::now();
        // The oldest request and since when the process has been free to
        // work on it (the moment the one before it was answered).
        let mut front: Option<(usize, Instant)> = None;
        // After a crash with several cases in flight: each is sent again on
        // its own, so the one that kills the target is the one recorded.
        let mut isolate: VecDeque<usize> = VecDeque::new();
        // Whether this process was given a case on its own to find a culprit.
        let mut isolating = false;
        loop {
            if run.aborted() {
                break; // another worker gave up, or the abort rule held
            }
            next.clear();
            if !isolate.is_empty() {
                if in_flight.unanswered == 0 {
                    if run.progress.reserve(1) == 1 {
                        next.extend(isolate.pop_front());
                        isolating = true;
                    } else {
                        // Out of budget: left unsent, for a resumed run.
                        run.queue.lock().expect("queue lock").extend(isolate.drain(..));
                    }
                }
            } else {
                // Refill in batches of at least half the limit: the target
                // still has the other half to judge meanwhile, and each
                // wake-up, read and write then carries many requests.
                let free = pace.limit.saturating_sub(in_flight.unanswered);
                if free * 2 >= pace.limit || in_flight.unanswered == 0 {
                    run.take(free, &mut next);
                }
            }
            let sent = Instant::now();
            for &i in &next {
                Request::write_line(&run.cases[i], &mut buf);
                in_flight.push(i, &run.cases[i].id, sent);
            }
            if !buf.is_empty() {
                process.pipes.send(&buf);
                buf.clear();
            }
            let Some((oldest_case, oldest_sent)) = in_flight.oldest().map(|s| (s.case, s.sent)) else {
                // A paced replay: cases not yet due are still to come.
                if let Some(due) = run.progress.next_due().filter(|_| !run.queue.lock().expect("queue lock").is_empty())
                {
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    continue;
                }
                break; // queue drained (or the run was aborted)
            };
            // A case's clock runs from when the process is free to work on
            // it, not while it waits behind slower cases in the target's queue.
            let free_since = match front {
                Some((case, since)) if case == oldest_case => since,
                // It became the oldest when the one before it was answered.
                _ => oldest_sent.max(life.last_line),
            };
            front = Some((oldest_case, free_since));
            let hung_at = life.last_line + hang;
            let deadline = match (life.ready, life.abandoned) {
                // Busy with a case already given up on: wait for its late
                // answer at most as long as a fresh process takes to start.
                (true, Some(at)) => at + self.restart_cost(),
                (true, None) => free_since + timeout,
                // Until a process has answered once, its start-up time is
                // not counted against the requests waiting for it.
                (false, _) => (oldest_sent + timeout).max(life.started + self.config.startup),
            };
            // A paced replay wakes for the next case due, answers or not,
            // when the window has room for it (a full window waits for an
            // answer, as any replay does).
            // Room as the refill above judges it; a due time already past
            // was refilled there, so only a future one is waited for (a wait
            // that ends at once would never poll the process's output).
            let free = pace.limit.saturating_sub(in_flight.unanswered);
            let room = free * 2 >= pace.limit || in_flight.unanswered == 0;
            let wake = match run.progress.next_due() {
                Some(due) if room && due > Instant::now() && !run.queue.lock().expect("queue lock").is_empty() => {
                    deadline.min(hung_at).min(due)
                }
                _ => deadline.min(hung_at),
            };
            match process.pipes.wait(&mut incoming, wake) {
                Wait::Lines => {
                    let now = Instant::now();
                    let end = whole_lines(&incoming);
                    let lines = incoming[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
                    let mut clock = BatchClock { now, cursor: life.last_line, left: lines as u32 };
                    (life.last_line, heard) = (now, now);
                    if life.abandoned.take().is_some() {
                        front = None; // free again: the next case's clock starts now
                    }
                    for line in incoming[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        let mut answer = Answer { run, in_flight: &mut in_flight, clock: &mut clock, life: &mut life };
                        if let Some(note) = answer.read(line, &mut done, &mut reasons) {
                            self.note_stray(&note);
                            if done.strays.len() < 64 {
                                done.strays.push_back(note);
                            }
                        }
                    }
                    if life.out_of_order {
                        self.out_of_order.store(true, Ordering::Relaxed);
                    }
                    incoming.drain(..end);
                    if !life.ready {
                        // Start-up is not counted against the requests that
                        // waited for it: their timeout (and latency) starts now.
                        in_flight.restamp(now);
                        life.ready = true;
                        front = None;
                        if !life.probed {
                            // No probe measured the start-up: this is it.
                            self.note_restart_cost(now.duration_since(life.started));
                        }
                    }
                    pace.answered(lines, now);
                    done.report(run.progress);
                    if let Some(pause) = pace.gather(lines, in_flight.unanswered) {
                        self.gathered.store(true, Ordering::Relaxed);
                        std::thread::sleep(pause);
                    }
                }
                Wait::Eof => {
                    let status = process.exit_status();
                    let clean = status.is_some_and(|s| s.success());
                    let (kind, why) = if clean {
                        (ErrorKind::Protocol, "target exited cleanly without answering".to_string())
                    } else {
                        (ErrorKind::Crash, format!("target died ({}) with the case in flight", describe_status(status)))
                    };
                    let lost = in_flight.drain();
                    if clean || lost.len() == 1 {
                        // The culprit is known: the one case in flight.
                        for (i, sent) in lost {
                            done.record(i, Outcome::error(kind, why.clone(), sent.elapsed().as_micros() as u64));
                        }
                    } else {
                        let mut cases: Vec<usize> = lost.into_iter().map(|(i, _)| i).collect();
                        cases.sort_unstable();
                        isolate.extend(cases);
                    }
                    done.report(run.progress);
                    // Restarts that only find the culprit are not the target's failures.
                    let restart = if isolating { Restart::Isolating } else { Restart::Failure };
                    let Some(next) = self.replace(run, process, &why, restart) else { return done.outcomes };
                    process = next;
                    (life, front, isolating) = (Life::new(&process), None, false);
                    pace.restart();
                }
                // Woken for a paced case falling due, before any deadline.
                Wait::Timeout if Instant::now() < deadline.min(hung_at) => {}
                Wait::Timeout if life.ready && life.abandoned.is_none() && Instant::now() < hung_at => {
                    // Slow is not hung: the oldest case is over its time and
                    // is recorded so. The process is busy with it: its late
                    // answer will be discarded.
                    let now = Instant::now();
                    if let Some((i, _)) = in_flight.pop_oldest(run.cases) {
                        let waited = now.duration_since(free_since);
                        let mut message = format!(
                            "no answer within {} ms of the target being free for it (timeout-ms {})",
                            waited.as_millis(),
                            timeout.as_millis()
                        );
                        if let Some(stray) = done.strays.pop_front() {
                            message.push_str(&format!("; meanwhile it wrote a line no case can be tied to: {stray}"));
                        }
                        done.record(i, Outcome::error(ErrorKind::Timeout, message, waited.as_micros() as u64));
                        done.late.insert(i);
                        done.report(run.progress);
                    }
                    (front, life.abandoned) = (None, Some(now));
                }
                Wait::Timeout => {
                    incoming.clear(); // a partial line from the process about to be killed
                    let now = Instant::now();
                    let silent = now.duration_since(heard);
                    let restart = match life.abandoned {
                        // Waiting longer for the abandoned answer would cost
                        // more than a fresh process: not a failure, unless
                        // the worker has heard nothing for `hang` (a target
                        // that answers nothing after each restart is hung).
                        Some(_) if life.ready && silent < hang => Restart::Timeout,
                        _ => Restart::Failure,
                    };
                    let why = match restart {
                        Restart::Timeout => "a timed-out case kept it busy".to_string(),
                        _ => {
                            format!("target wrote nothing for {} ms (hang-ms {})", silent.as_millis(), hang.as_millis())
                        }
                    };
                    let mut requeue = Vec::new();
                    for (k, (i, sent)) in in_flight.drain().into_iter().enumerate() {
                        if k > 0 || life.abandoned.is_some() {
                            // Never started (the process was busy before it):
                            // sent again to the new process, for its real answer.
                            requeue.push(i);
                            continue;
                        }
                        // The case the process was free to work on and never answered.
                        let waited = now.duration_since(if life.ready { free_since } else { sent });
                        let mut message = if life.ready {
                            format!(
                                "no answer within {} ms: the target wrote nothing for {} ms (hang-ms {}) and was restarted",
                                waited.as_millis(),
                                now.duration_since(life.last_line).as_millis(),
                                hang.as_millis()
                            )
                        } else {
                            // A process that never answered had the start-up allowance, not the timeout.
                            format!(
                                "no answer within {} ms: the process never answered (startup-ms {}, timeout-ms {})",
                                waited.as_millis(),
                                self.config.startup.as_millis(),
                                timeout.as_millis()
                            )
                        };
                        if let Some(stray) = done.strays.pop_front() {
                            message.push_str(&format!("; meanwhile it wrote a line no case can be tied to: {stray}"));
                        }
                        done.record(i, Outcome::error(ErrorKind::Timeout, message, waited.as_micros() as u64));
                    }
                    done.report(run.progress);
                    requeue.sort_unstable();
                    let mut queue = run.queue.lock().expect("queue lock");
                    for i in requeue.into_iter().rev() {
                        queue.push_front(i);
                    }
                    drop(queue);
                    let Some(next) = self.replace(run, process, &why, restart) else {
                        return done.outcomes;
                    };
                    process = next;
                    (life, front) = (Life::new(&process), None);
                    pace.restart();
                }
            }
        }
        // Close stdin and read what is left: a late duplicate answer still
        // makes its case a protocol error; other stray lines are ignored.
        process.pipes.close_input();
        let grace = Instant::now() + timeout.min(Duration::from_secs(2));
        while process.pipes.wait(&mut incoming, grace) == Wait::Lines {
            let end = whole_lines(&incoming);
            for line in incoming[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if let Ok(r) = serde_json::from_slice::<Response>(line) {
                    if let Some(case) = run.case_with_id(&r.id).filter(|c| !done.late.contains(c)) {
                        done.answered_twice(case, &String::from_utf8_lossy(line));
                    }
                }
            }
            incoming.drain(..end);
        }
        if process.exit_status().is_none() {
            process.kill();
        }
        done.outcomes
    }

    fn give_up(&self, run: &Run, reason: String) {
        let mut abort = run.abort.lock().expect("abort lock");
        abort.get_or_insert(reason);
    }
}

/// Length of the whole lines at the start of `incoming`.
fn whole_lines(incoming: &[u8]) -> usize {
    memchr::memrchr(b'\n', incoming).map_or(0, |last| last + 1)
}

/// Outcomes in case order from lists in any order; a case without one was
/// never run (the run was aborted).
fn scatter(results: Vec<Vec<(usize, Outcome)>>, cases: usize, reason: &str) -> Vec<Outcome> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; cases];
    for (i, outcome) in results.into_iter().flatten() {
        debug_assert!(outcomes[i].is_none(), "one outcome per case");
        outcomes[i] = Some(outcome);
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::error(ErrorKind::Crash, format!("not run: {reason}"), 0)))
        .collect()
}

/// A line that matches no in-flight case is charged to the oldest one.
fn describe_status(status: Option<std::process::ExitStatus>) -> String {
    match status {
        Some(s) => s.to_string(),
        None => "still running after closing its output".into(),
    }
}

impl Target for ExecTarget {
    /// Arms the probe every process answers before its first case, and
    /// starts the first process now, so a target that cannot start or
    /// answer fails the run at once (exit 3) with its stderr.
    fn probe(&self, case: &Case, _: &dyn ReplayProgress) -> Result<(), Error> {
        let mut request = Vec::new();
        Request::write_line(case, &mut request);
        self.probe.lock().expect("probe lock").request = Some(request);
        let process = self.spawn().map_err(|why| {
            Error::Target(format!("`{}`: {why}{}", self.config.command.join(" "), self.stderr_tail()))
        })?;
        self.probe.lock().expect("probe lock").warm = Some(process);
        Ok(())
    }

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
            throttled_ms: None,
            latency_method: Some(self.latency_method()),
            latency_resolution_us: self.gathered.load(Ordering::Relaxed).then_some(Pace::READ_EVERY.as_micros() as u64),
            restarts: self.restarts(),
        }
    }

    fn replay(&self, cases: &[Case], progress: &dyn ReplayProgress) -> Result<Replayed, Error> {
        let run = Run {
            cases,
            ids: std::sync::OnceLock::new(),
            queue: Mutex::new((0..cases.len()).collect()),
            restarts: AtomicU32::new(0),
            abort: Mutex::new(None),
            progress,
        };
        let workers = self.config.workers.max(1).min(cases.len().max(1));
        let mut clock = crate::stage_clock::StageClock::new("exec");
        let results: Vec<Vec<(usize, Outcome)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|k| {
                    let worker = std::thread::Builder::new().name(format!("exec-worker-{k}"));
                    worker.spawn_scoped(s, || self.work(&run)).expect("worker thread starts")
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("worker thread")).collect()
        });
        clock.mark("workers");
        if progress.stopped() && !run.queue.lock().expect("queue lock").is_empty() {
            return Err(Error::Target(format!(
                "`{}`: the request budget ran out before every case was sent",
                self.config.command.join(" ")
            )));
        }
        let aborted = run.abort.into_inner().expect("abort lock");
        let outcomes = scatter(results, cases.len(), &aborted.clone().unwrap_or_default());
        clock.mark("ordered");
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

#[cfg(test)]
mod tests;
