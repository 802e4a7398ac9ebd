//! The open-loop scheduler of `gauntlet load` against a target that answers
//! at once: can it keep 20,000 requests a second, and how late are its
//! sends against the schedule (p99 must stay under 1 ms)?

use std::time::{Duration, Instant};

use gauntlet::corpus::Decision;
use gauntlet::load::{generate, summarise, Arrivals, LoadPlan};
use gauntlet::targets::Outcome;

pub fn bench_open_loop() {
    let answer = |_: usize| Outcome::decided(Decision::Allow, 0);
    let order: Vec<usize> = (0..1000).collect();
    for (rate, arrivals) in
        [(20_000.0, Arrivals::Constant), (20_000.0, Arrivals::Poisson), (50_000.0, Arrivals::Constant)]
    {
        let plan = LoadPlan { rate, duration: Duration::from_secs(5), arrivals, seed: 1, max_in_flight: 4, phase: 0.0 };
        let cpu_before = super::cpu_seconds().map_or(0.0, |c| c.0);
        let started = Instant::now();
        let run = generate(&answer, &order, &plan, &());
        let wall = started.elapsed().as_secs_f64();
        let cpu = super::cpu_seconds().map_or(0.0, |c| c.0) - cpu_before;
        let s = summarise(&run);
        println!(
            "open_loop {arrivals:?} {rate:.0}/s for 5 s: {} sent, achieved {:.0}/s; send late p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs; in flight peak {}, cap waits {}; CPU {:.2} s over {:.2} s wall",
            run.samples.len(),
            s.rate.achieved,
            s.send_error.p50,
            s.send_error.p99,
            s.send_error.p99_9,
            s.send_error.max,
            s.in_flight_peak,
            s.cap_waits,
            cpu,
            wall
        );
    }
}
