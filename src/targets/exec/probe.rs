//! The health probe of exec targets (every process answers one untimed
//! request before its first case), and what is kept of a target's stray
//! output for target-stderr.log.

use std::time::{Duration, Instant};

use super::pipes::Wait;
use super::{describe_status, whole_lines, ExecTarget, Process, STDERR_CAP};
use crate::targets::protocol::{excerpt, Response};

/// The per-process health probe, armed by `Target::probe`.
#[derive(Default)]
pub(super) struct Probe {
    /// The request line every new process answers before it gets a case.
    pub(super) request: Option<Vec<u8>>,
    /// The process the first probe started, handed to the first worker.
    pub(super) warm: Option<Process>,
}

/// `{"id": …, "error": "…"}`: a target's own error for one case.
#[derive(serde::Deserialize)]
pub(super) struct ErrorAnswer {
    pub(super) id: String,
    pub(super) error: String,
}

impl ExecTarget {
    /// Keeps a stdout line no case can be tied to in target-stderr.log.
    pub(super) fn note_stray(&self, note: &str) {
        let mut log = self.stderr.lock().expect("stderr lock");
        let line = format!("[gauntlet] stdout: {note}\n");
        let room = STDERR_CAP.saturating_sub(log.text.len()).min(line.len());
        log.text.extend_from_slice(&line.as_bytes()[..room]);
        log.dropped += (line.len() - room) as u64;
    }

    /// The last lines the target wrote to stderr, for a probe failure.
    pub(super) fn stderr_tail(&self) -> String {
        // The reader thread may still be draining a process that just died.
        std::thread::sleep(Duration::from_millis(50));
        let log = self.stderr.lock().expect("stderr lock");
        let text = String::from_utf8_lossy(&log.text);
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        if lines.is_empty() {
            return String::new();
        }
        let tail: Vec<String> = lines.into_iter().rev().map(crate::text::terminal_safe).collect();
        format!("\ntarget stderr (last lines):\n  {}", tail.join("\n  "))
    }

    /// Sends the probe to a fresh process and reads its answer: untimed,
    /// within the start-up allowance, so it also warms the process up.
    pub(super) fn answer_probe(&self, process: &mut Process, request: &[u8]) -> Result<(), String> {
        process.pipes.send(request);
        let started = Instant::now();
        let deadline = started + self.config.timeout.max(self.config.startup);
        let mut incoming = Vec::new();
        loop {
            match process.pipes.wait(&mut incoming, deadline) {
                Wait::Lines => {
                    let end = whole_lines(&incoming);
                    let line = incoming[..end].split(|&b| b == b'\n').find(|l| !l.is_empty()).map(<[u8]>::to_vec);
                    let Some(line) = line else { continue };
                    let text = String::from_utf8_lossy(&line).into_owned();
                    return match serde_json::from_slice::<Response>(&line) {
                        Ok(r) if r.id == crate::targets::PROBE_ID => Ok(()),
                        Ok(r) => Err(format!("the answer to the probe has id `{}`", excerpt(&r.id))),
                        Err(_) => match serde_json::from_slice::<ErrorAnswer>(&line) {
                            Ok(a) => Err(format!("the target answered the probe with an error: {}", excerpt(&a.error))),
                            Err(_) => {
                                Err(format!("the answer to the probe is not a protocol answer: {}", excerpt(&text)))
                            }
                        },
                    };
                }
                Wait::Eof => {
                    return Err(format!(
                        "the target exited ({}) before answering",
                        describe_status(process.exit_status())
                    ))
                }
                Wait::Timeout => {
                    return Err(format!(
                        "no answer within {} ms (startup-ms {}, timeout-ms {})",
                        started.elapsed().as_millis(),
                        self.config.startup.as_millis(),
                        self.config.timeout.as_millis()
                    ))
                }
            }
        }
    }
}
