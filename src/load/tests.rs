use super::*;

fn plan(rate: f64, seconds: f64, arrivals: Arrivals, cap: usize) -> LoadPlan {
    LoadPlan { rate, duration: Duration::from_secs_f64(seconds), arrivals, seed: 7, max_in_flight: cap, phase: 0.0 }
}

fn answer(decision: Decision, latency_us: u64) -> Outcome {
    Outcome::decided(decision, latency_us)
}

#[test]
fn a_constant_schedule_is_evenly_spaced_and_a_poisson_one_keeps_the_mean() {
    let constant = schedule(&plan(100.0, 2.0, Arrivals::Constant, 1));
    assert_eq!(constant.len(), 200);
    assert!(constant.windows(2).all(|w| w[1] - w[0] == 10_000_000 || w[1] - w[0] == 9_999_999));
    let poisson = schedule(&plan(1000.0, 20.0, Arrivals::Poisson, 1));
    // 20,000 expected; a Poisson count's standard deviation is √20000 ≈ 141.
    assert!((19_500..20_500).contains(&poisson.len()), "{}", poisson.len());
    assert_eq!(poisson, schedule(&plan(1000.0, 20.0, Arrivals::Poisson, 1)), "seeded: the same every time");
    // Half a gap later: two shards at half the rate interleave.
    let shifted = schedule(&LoadPlan { phase: 0.5, ..plan(100.0, 1.0, Arrivals::Constant, 1) });
    assert_eq!(shifted[0], 5_000_000);
}

#[test]
fn the_case_order_is_a_seeded_permutation() {
    let order = case_order(100, 3);
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert_ne!(order, sorted, "shuffled");
    assert_eq!(order, case_order(100, 3));
    assert_ne!(order, case_order(100, 4));
}

/// The core of the issue: a gate that serves one request at a time in
/// 2 ms, driven at twice its capacity. Service time stays at 2 ms; the
/// corrected latency grows with the backlog, as a user behind it sees.
#[test]
fn latency_counts_from_the_intended_send_time_so_a_backlog_shows() {
    let gate = Mutex::new(());
    let send = |_case: usize| {
        let _one_at_a_time = gate.lock().unwrap();
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        answer(Decision::Allow, start.elapsed().as_micros() as u64)
    };
    let run = generate(&send, &[0, 1, 2], &plan(1000.0, 0.5, Arrivals::Constant, 1), &());
    let s = summarise(&run);
    assert_eq!(s.requests.scheduled, 500);
    assert_eq!(run.samples.len(), 500, "every scheduled request is sent and answered");
    assert!(s.service_latency.p50 >= 2_000 && s.service_latency.p50 < 4_000, "{:?}", s.service_latency);
    // 500 requests at ≥ 2 ms each take ≥ 1 s: the last waited ≥ 0.5 s.
    assert!(s.latency.max >= 500_000, "{:?}", s.latency);
    assert!(s.latency.p99 > 100 * s.service_latency.p50, "{:?} vs {:?}", s.latency, s.service_latency);
    assert!(s.rate.achieved < 520.0, "{}", s.rate.achieved);
    assert!(s.cap_waits > 400, "one connection: nearly every request waited ({})", s.cap_waits);
    assert_eq!(s.in_flight_peak, 1);
}

#[test]
fn an_open_loop_adds_workers_instead_of_waiting() {
    // 10 ms per request at 400/s: about four in flight at once.
    let send = |_case: usize| {
        std::thread::sleep(Duration::from_millis(10));
        answer(Decision::Block, 10_000)
    };
    let run = generate(&send, &[0], &plan(400.0, 0.5, Arrivals::Constant, 64), &());
    let s = summarise(&run);
    assert_eq!(s.cap_waits, 0);
    assert!((4..=16).contains(&s.in_flight_peak), "{}", s.in_flight_peak);
    assert!(s.latency.p50 < 20_000, "no backlog: {:?}", s.latency);
    assert!((s.rate.achieved - 400.0).abs() < 40.0, "{}", s.rate.achieved);
}

#[test]
fn cases_blocked_at_rest_and_allowed_under_load_are_fail_open() {
    let sample = |case: u32, decision: Result<Decision, ErrorKind>| Sample {
        case,
        intended_ns: 0,
        sent_ns: 0,
        done_ns: 0,
        service_us: 1,
        decision,
    };
    let at_rest = [Some(Decision::Block), Some(Decision::Allow), None, Some(Decision::RequireApproval)];
    let ids: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    let samples = [
        sample(0, Ok(Decision::Allow)),
        sample(0, Ok(Decision::Allow)),
        sample(0, Ok(Decision::Block)),
        sample(1, Ok(Decision::Allow)),
        sample(2, Ok(Decision::Allow)),
        sample(3, Ok(Decision::Allow)),
        sample(3, Err(ErrorKind::Timeout)),
    ];
    let f = fail_open(&samples, &at_rest, &ids);
    assert_eq!((f.checked, f.count), (5, 3));
    assert_eq!(f.cases, ["a", "d"]);
}

#[test]
fn shards_merge_exactly() {
    let send = |case: usize| answer(Decision::Allow, 1_000 + case as u64 * 10);
    let order: Vec<usize> = (0..50).collect();
    let a = summarise(&generate(&send, &order, &plan(200.0, 0.25, Arrivals::Constant, 4), &()));
    let b = summarise(&generate(&send, &order, &plan(200.0, 0.25, Arrivals::Constant, 4), &()));
    let merged = merge_summaries(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(merged.requests.scheduled, a.requests.scheduled + b.requests.scheduled);
    assert_eq!(merged.rate.asked, 400.0);
    // Both shards saw the same service times: the merged percentiles equal each shard's.
    assert_eq!(merged.service_latency, a.service_latency);
    let service = decode(&merged.histograms.service_latency).unwrap();
    assert_eq!(service.len(), a.requests.scheduled + b.requests.scheduled);
}

struct Below(u64);
impl StepJudge for Below {
    fn within(&self, s: &LoadSummary) -> bool {
        s.latency.p99 <= self.0
    }
}

#[test]
fn find_rate_doubles_then_bisects_to_the_knee() {
    // A fake gate whose p99 is fine up to 90/s and not above.
    let step = |rate: f64| {
        let mut s = summarise(&LoadRun {
            plan: plan(rate, 1.0, Arrivals::Constant, 1),
            scheduled: 0,
            samples: Vec::new(),
            in_flight_peak: 0,
            cap_waits: 0,
            wall: Duration::ZERO,
        });
        s.latency.p99 = if rate <= 90.0 { 10_000 } else { 2_000_000 };
        Ok::<_, ()>(s)
    };
    let (found, steps) = find_rate(step, &Below(50_000), 10.0, 1e6, 0.05, 20).unwrap();
    let rates: Vec<f64> = steps.iter().map(|(r, _, _)| *r).collect();
    assert_eq!(&rates[..5], &[10.0, 20.0, 40.0, 80.0, 160.0], "doubling first");
    let found = found.unwrap();
    assert!((86.0..=90.0).contains(&found), "{found} after {rates:?}");
    let (none, _) = find_rate(step, &Below(50_000), 100.0, 1e6, 0.05, 20).unwrap();
    assert_eq!(none, None, "even the first rate failed");
}
