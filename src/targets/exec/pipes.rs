//! Talking to one target process: request bytes out on its stdin, answer
//! lines in from its stdout, without either pipe ever blocking the other.
//!
//! Two ways to do it, behind one interface:
//! - [`Polled`] (unix): both pipes non-blocking and one `poll` per wait, on
//!   the worker's own thread. A round trip (the target flushes answers, the
//!   worker sends the requests that refill the window) costs two wake-ups.
//! - [`Threaded`] (everywhere): a reader thread and a writer thread around
//!   blocking pipes. Each round trip costs four wake-ups (target, reader,
//!   worker, writer), which against a fast target doubled the wall time of a
//!   one-process run compared with the same target reading from a file.
//!
//! Either way `send` never blocks: bytes the pipe cannot take yet wait in
//! memory and go out during the next `wait`.

use std::io::{Read, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

/// What a [`Pipes::wait`] ended with.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Wait {
    /// `incoming` holds at least one whole line.
    Lines,
    /// The process closed its stdout and every line it wrote was returned.
    Eof,
    /// The deadline passed with no whole line.
    Timeout,
}

/// Bytes read per `read` call.
const CHUNK: usize = 1 << 16;

pub(super) enum Pipes {
    #[cfg(unix)]
    Polled(Polled),
    Threaded(Threaded),
}

impl Pipes {
    /// Polled where the platform has it, unless `threads` asks otherwise.
    pub(super) fn new(stdin: ChildStdin, stdout: ChildStdout, threads: bool) -> std::io::Result<Pipes> {
        #[cfg(unix)]
        if !threads {
            return Ok(Pipes::Polled(Polled::new(stdin, stdout)?));
        }
        let _ = threads;
        Ok(Pipes::Threaded(Threaded::new(stdin, stdout)))
    }

    /// Queues bytes for the process's stdin and writes what the pipe takes
    /// now. Bytes for a process that stopped reading are dropped: its end of
    /// output tells the worker what happened.
    pub(super) fn send(&mut self, bytes: &[u8]) {
        match self {
            #[cfg(unix)]
            Pipes::Polled(p) => p.send(bytes),
            Pipes::Threaded(t) => t.send(bytes),
        }
    }

    /// Appends what the process writes to `incoming` until it holds a whole
    /// line, the output ends, or `deadline` passes; sends queued bytes
    /// meanwhile. A last line without its newline gets one at the end of
    /// output, so it still counts as an answer.
    pub(super) fn wait(&mut self, incoming: &mut Vec<u8>, deadline: Instant) -> Wait {
        match self {
            #[cfg(unix)]
            Pipes::Polled(p) => p.wait(incoming, deadline),
            Pipes::Threaded(t) => t.wait(incoming, deadline),
        }
    }

    /// Closes the process's stdin once what was sent is written (during
    /// later waits, if the pipe is full now).
    pub(super) fn close_input(&mut self) {
        match self {
            #[cfg(unix)]
            Pipes::Polled(p) => p.close_input(),
            Pipes::Threaded(t) => drop(t.requests.take()),
        }
    }
}

/// Whether `incoming` holds a whole line, after the end of output gave a
/// trailing partial line its newline.
fn finish_lines(incoming: &mut Vec<u8>, ended: bool) -> Option<Wait> {
    if ended && incoming.last().is_some_and(|&b| b != b'\n') {
        incoming.push(b'\n');
    }
    if memchr::memchr(b'\n', incoming).is_some() {
        return Some(Wait::Lines);
    }
    ended.then_some(Wait::Eof)
}

#[cfg(unix)]
pub(super) struct Polled {
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    outgoing: Vec<u8>,
    /// Bytes of `outgoing` already written.
    written: usize,
    /// Close stdin once `outgoing` is written.
    closing: bool,
    /// stdout was read empty and nothing since said otherwise: skip the
    /// read that would only fail, one system call per wake-up.
    drained: bool,
    ended: bool,
    chunk: Box<[u8]>,
}

#[cfg(unix)]
impl Polled {
    fn new(stdin: ChildStdin, stdout: ChildStdout) -> std::io::Result<Polled> {
        rustix::io::ioctl_fionbio(&stdin, true)?;
        rustix::io::ioctl_fionbio(&stdout, true)?;
        Ok(Polled {
            stdin: Some(stdin),
            stdout,
            outgoing: Vec::new(),
            written: 0,
            closing: false,
            drained: false,
            ended: false,
            chunk: vec![0; CHUNK].into_boxed_slice(),
        })
    }

    fn send(&mut self, bytes: &[u8]) {
        if self.closing {
            return;
        }
        let Some(stdin) = self.stdin.as_mut() else { return };
        if self.outgoing.is_empty() {
            // Nothing queued: write from the caller's buffer and keep only
            // what the pipe did not take, rather than copying every byte.
            match write_nonblocking(stdin, bytes) {
                Some(n) => self.outgoing.extend_from_slice(&bytes[n..]),
                None => self.stdin = None,
            }
        } else {
            self.outgoing.extend_from_slice(bytes);
            self.write_some();
        }
    }

    /// Writes queued bytes until the pipe is full or nothing is left.
    fn write_some(&mut self) {
        let Some(stdin) = self.stdin.as_mut() else { return };
        match write_nonblocking(stdin, &self.outgoing[self.written..]) {
            Some(n) => self.written += n,
            None => self.stdin = None,
        }
        if self.written == self.outgoing.len() || self.stdin.is_none() {
            self.outgoing.clear();
            self.written = 0;
            if self.closing {
                self.stdin = None;
            }
        }
    }

    /// Reads everything available now; notes the end of output.
    fn read_available(&mut self, incoming: &mut Vec<u8>) {
        loop {
            match self.stdout.read(&mut self.chunk) {
                Ok(0) => {
                    self.ended = true;
                    return;
                }
                Ok(n) => {
                    incoming.extend_from_slice(&self.chunk[..n]);
                    // A pipe read returns all it has up to the buffer size.
                    if n < self.chunk.len() {
                        self.drained = true;
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.drained = true;
                    return;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.ended = true;
                    return;
                }
            }
        }
    }

    fn wait(&mut self, incoming: &mut Vec<u8>, deadline: Instant) -> Wait {
        use rustix::event::{poll, PollFd, PollFlags};
        loop {
            if !self.ended && !self.drained {
                self.read_available(incoming);
            }
            if let Some(wait) = finish_lines(incoming, self.ended) {
                return wait;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wait::Timeout;
            }
            let timeout = rustix::event::Timespec::try_from(left).ok();
            let pending = self.written < self.outgoing.len();
            // Readiness is not read back for stdout: the loop reads it anyway.
            let polled = match (self.stdin.as_ref(), pending) {
                (Some(stdin), true) => {
                    let mut fds = [PollFd::new(&self.stdout, PollFlags::IN), PollFd::new(stdin, PollFlags::OUT)];
                    poll(&mut fds, timeout.as_ref()).map(|_| !fds[1].revents().is_empty())
                }
                _ => poll(&mut [PollFd::new(&self.stdout, PollFlags::IN)], timeout.as_ref()).map(|_| false),
            };
            self.drained = false;
            match polled {
                Ok(true) => self.write_some(),
                Ok(false) => {}
                Err(rustix::io::Errno::INTR) => {}
                // poll itself failing leaves no way to wait: treat the
                // output as ended so the worker charges and restarts.
                Err(_) => self.ended = true,
            }
        }
    }

    fn close_input(&mut self) {
        self.closing = true;
        self.write_some();
    }
}

/// Writes as much of `bytes` as the pipe takes now; None once the process
/// closed its stdin or died, after which nothing more goes out.
#[cfg(unix)]
fn write_nonblocking(stdin: &mut ChildStdin, bytes: &[u8]) -> Option<usize> {
    let mut done = 0;
    while done < bytes.len() {
        match stdin.write(&bytes[done..]) {
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(done)
}

/// Lines from the reader thread, as many as were available at once.
enum Event {
    Lines(Vec<u8>),
    Eof,
}

pub(super) struct Threaded {
    /// Byte buffers for the writer thread, which owns stdin. Dropping it
    /// closes stdin.
    requests: Option<Sender<Vec<u8>>>,
    lines: Receiver<Event>,
    ended: bool,
}

impl Threaded {
    fn new(mut stdin: ChildStdin, mut stdout: ChildStdout) -> Threaded {
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            let mut pending: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; CHUNK];
            loop {
                match stdout.read(&mut chunk) {
                    Ok(0) | Err(_) => {
                        if !pending.is_empty() {
                            let _ = tx.send(Event::Lines(pending));
                        }
                        let _ = tx.send(Event::Eof);
                        return;
                    }
                    Ok(n) => {
                        pending.extend_from_slice(&chunk[..n]);
                        if let Some(last) = memchr::memrchr(b'\n', &pending) {
                            let rest = pending.split_off(last + 1);
                            if tx.send(Event::Lines(std::mem::replace(&mut pending, rest))).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        let (requests, pending) = channel::<Vec<u8>>();
        std::thread::spawn(move || {
            for buf in pending {
                // A write error means the process is gone; the reader sees its EOF.
                if stdin.write_all(&buf).is_err() {
                    return;
                }
            }
        });
        Threaded { requests: Some(requests), lines, ended: false }
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(requests) = self.requests.as_ref() {
            // The writer is gone only with the process; its EOF is handled by the worker.
            let _ = requests.send(bytes.to_vec());
        }
    }

    fn wait(&mut self, incoming: &mut Vec<u8>, deadline: Instant) -> Wait {
        loop {
            if let Some(wait) = finish_lines(incoming, self.ended) {
                return wait;
            }
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Event::Lines(lines)) => incoming.extend_from_slice(&lines),
                Ok(Event::Eof) | Err(RecvTimeoutError::Disconnected) => self.ended = true,
                Err(RecvTimeoutError::Timeout) => return Wait::Timeout,
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    fn cat(threads: bool) -> (std::process::Child, Pipes) {
        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let pipes = Pipes::new(child.stdin.take().unwrap(), child.stdout.take().unwrap(), threads).unwrap();
        (child, pipes)
    }

    /// 8 MiB out before reading anything back: far more than both pipe
    /// buffers hold, so a `send` that blocked would deadlock with `cat`.
    #[test]
    fn sending_more_than_the_pipes_hold_before_reading_does_not_deadlock() {
        for threads in [false, true] {
            let (mut child, mut pipes) = cat(threads);
            let line = format!("{}\n", "x".repeat(1023));
            for _ in 0..8192 {
                pipes.send(line.as_bytes());
            }
            pipes.close_input();
            let mut incoming = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut lines = 0;
            loop {
                match pipes.wait(&mut incoming, deadline) {
                    Wait::Lines => {
                        let end = memchr::memrchr(b'\n', &incoming).unwrap() + 1;
                        lines += incoming[..end].iter().filter(|&&b| b == b'\n').count();
                        incoming.drain(..end);
                    }
                    Wait::Eof => break,
                    Wait::Timeout => panic!("timed out after {lines} lines (threads: {threads})"),
                }
            }
            assert_eq!(lines, 8192, "threads: {threads}");
            child.wait().unwrap();
        }
    }

    #[test]
    fn a_last_line_without_newline_still_arrives_then_the_end() {
        for threads in [false, true] {
            let (mut child, mut pipes) = cat(threads);
            pipes.send(b"one\ntwo");
            pipes.close_input();
            let mut incoming = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut seen = Vec::new();
            loop {
                match pipes.wait(&mut incoming, deadline) {
                    Wait::Lines => {
                        let end = memchr::memrchr(b'\n', &incoming).unwrap() + 1;
                        seen.extend(incoming.drain(..end));
                    }
                    Wait::Eof => break,
                    Wait::Timeout => panic!("timed out (threads: {threads})"),
                }
            }
            assert_eq!(seen, b"one\ntwo\n", "threads: {threads}");
            assert_eq!(pipes.wait(&mut incoming, deadline), Wait::Eof, "the end stays the end");
            child.wait().unwrap();
        }
    }

    #[test]
    fn a_silent_process_times_out_at_the_deadline() {
        for threads in [false, true] {
            let (mut child, mut pipes) = cat(threads);
            let start = Instant::now();
            let mut incoming = Vec::new();
            assert_eq!(pipes.wait(&mut incoming, start + Duration::from_millis(100)), Wait::Timeout);
            assert!(start.elapsed() >= Duration::from_millis(100));
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}
