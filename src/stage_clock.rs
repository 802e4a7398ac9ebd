//! Stage times for `GAUNTLET_TIMINGS=1`: wall time since the run began and
//! the process's CPU time, so a stage that leaves a core idle shows up as
//! CPU time well under twice its wall time on two cores.

use std::time::Instant;

pub struct StageClock {
    what: &'static str,
    started: Instant,
    last: Option<(f64, f64)>,
}

impl StageClock {
    pub fn new(what: &'static str) -> StageClock {
        let enabled = std::env::var_os("GAUNTLET_TIMINGS").is_some();
        let mut clock = StageClock { what, started: Instant::now(), last: None };
        if enabled {
            clock.last = Some((0.0, process_cpu_seconds().unwrap_or(0.0)));
        }
        clock
    }

    /// Prints "TIMING <what> <stage>": wall and CPU seconds since the last
    /// mark, and wall seconds since the start.
    pub fn mark(&mut self, stage: &str) {
        let Some((last_wall, last_cpu)) = self.last else { return };
        let wall = self.started.elapsed().as_secs_f64();
        let cpu = process_cpu_seconds().unwrap_or(0.0);
        eprintln!(
            "TIMING {} {stage:<10} wall {:>6.3} s  cpu {:>6.3} s  (total {:.3} s)  rss {} MiB",
            self.what,
            wall - last_wall,
            cpu - last_cpu,
            wall,
            resident_mib().map_or_else(|| "?".to_string(), |m| m.to_string())
        );
        self.last = Some((wall, cpu));
    }
}

/// Resident memory now, from /proc (Linux only): where in a run the peak
/// builds up.
fn resident_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// User + system time of this process, from /proc (Linux only; elsewhere
/// the CPU column reads 0).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
