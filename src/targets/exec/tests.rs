use super::*;

#[test]
fn outcomes_are_put_in_case_order_and_a_case_never_run_is_a_crash() {
    let outcome = |i: usize| (i, Outcome::error(ErrorKind::Timeout, "t", i as u64));
    // Two workers taking batches from one queue; the second lost case 2.
    let lists = vec![[0, 1, 6, 7].map(outcome).to_vec(), [5, 3, 4].map(outcome).to_vec()];
    let outcomes = scatter(lists, 8, "aborted");
    let latencies: Vec<u64> = outcomes.iter().map(|o| o.latency_us).collect();
    assert_eq!(latencies, vec![0, 1, 0, 3, 4, 5, 6, 7]);
    assert!(outcomes[2].decision.as_ref().is_err_and(|e| e.kind == ErrorKind::Crash && e.message.contains("aborted")));
}

#[test]
fn pace_opens_the_window_for_a_fast_target_and_keeps_a_slow_one_short() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut fast = Pace::new(1024, Duration::from_secs(2));
    assert_eq!(fast.limit, Pace::START);
    fast.answered(1, ms(3000)); // start-up: ignored
    assert_eq!(fast.limit, Pace::START);
    fast.answered(16, ms(3001)); // 16 answers in 1 ms
    assert_eq!(fast.limit, 1024);

    // 20 ms per answer, 2 s timeout: 500 ms of queue is 25 requests.
    let mut slow = Pace::new(1024, Duration::from_secs(2));
    slow.answered(1, ms(100));
    for k in 1..=10 {
        slow.answered(1, ms(100 + 20 * k));
    }
    assert_eq!(slow.limit, 25);
    // Slower still: never below the start.
    slow.answered(1, ms(10_000));
    assert_eq!(slow.limit, Pace::START);
    // A window smaller than the start is the limit from the first request.
    assert_eq!(Pace::new(4, Duration::from_secs(2)).limit, 4);
    slow.restart();
    assert_eq!((slow.limit, slow.per_answer), (Pace::START, None));
}

/// The worker loop is shared by both ways of moving bytes; this runs
/// it through each against a real process that misbehaves on cue.
#[cfg(unix)]
#[test]
fn both_pipe_backends_give_every_case_its_one_documented_outcome() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/targets/exec_gate.py");
    let text = |i: usize| match i {
        7 => "GARBAGE",
        13 => "DUP",
        21 => "an attack",
        29 => "UNKNOWN",
        35 => "HANG",
        _ => "hello",
    };
    let cases: Vec<Case> = (0..60).map(|i| Case::sample(&format!("c{i}"), text(i))).collect();
    for threads in [false, true] {
        let mut target = ExecTarget::new(ExecConfig {
            command: vec!["python3".into(), script.into(), "ok".into()],
            workers: 1,
            window: 8,
            timeout: Duration::from_millis(1000),
            max_restarts: 3,
            hello: false,
            dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            startup: crate::targets::exec::DEFAULT_STARTUP,
            // A case the target skips in silence holds the process busy until
            // it is judged hung: keep that short here.
            hang: Duration::from_secs(3),
        });
        target.threads = threads;
        let replayed = target.replay(&cases, &()).unwrap();
        assert_eq!(replayed.aborted, None, "threads: {threads}");
        let got: Vec<String> = replayed
            .outcomes
            .iter()
            .map(|o| match &o.decision {
                Ok(d) => format!("{d:?}"),
                Err(e) => e.kind.as_str().to_string(),
            })
            .collect();
        let want: Vec<String> = (0..60)
            .map(|i| match i {
                13 => "protocol",
                21 => "Block",
                // Garbage and an unknown id are tied to no case: the case waits out its time.
                7 | 29 | 35 => "timeout",
                _ => "Allow",
            })
            .map(String::from)
            .collect();
        assert_eq!(got, want, "threads: {threads}");
    }
}

#[test]
fn in_flight_matches_in_order_then_by_id_after_an_out_of_order_answer() {
    let cases: Vec<Case> = (0..6).map(|i| Case::sample(&format!("c{i}"), "x")).collect();
    let mut f = InFlight::new(8);
    let t = Instant::now();
    for (i, case) in cases.iter().enumerate().take(4) {
        f.push(i, &case.id, t);
    }
    assert_eq!(f.answer("c0", &cases).map(|a| a.0), Some(0));
    assert!(f.by_id.is_none(), "in-order answers need no map");
    assert_eq!(f.answer("c2", &cases).map(|a| a.0), Some(2));
    assert!(f.by_id.is_some());
    f.push(4, &cases[4].id, t); // pushed after the map exists: must be found too
    assert_eq!(f.answer("c4", &cases).map(|a| a.0), Some(4));
    assert_eq!(f.answer("c2", &cases), None, "answered already");
    assert_eq!(f.answer("c9", &cases), None, "unknown");
    assert_eq!(f.pop_oldest(&cases).map(|a| a.0), Some(1));
    assert_eq!(f.answer("c1", &cases), None, "charged and gone");
    assert_eq!(f.unanswered, 1);
    assert_eq!(f.drain().iter().map(|a| a.0).collect::<Vec<_>>(), vec![3]);
    assert_eq!(f.oldest().map(|s| s.case), None);
}

/// Regression: a case's latency ran from writing its request, so with a
/// window of 64 a 5 ms gate measured 250 ms (the wait behind the others).
#[test]
fn the_batch_clock_times_each_line_from_when_the_process_was_free_for_it() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    // Sent at 0 behind others; the process was free from 40 ms; answered at 45.
    let mut clock = BatchClock { now: ms(45), cursor: ms(40), left: 1 };
    assert_eq!(clock.next(Some(t0), true), (5_000, Some(40_000)));
    // Sent at 42, after the process was free: no queue, latency from the send.
    let mut clock = BatchClock { now: ms(45), cursor: ms(40), left: 1 };
    assert_eq!(clock.next(Some(ms(42)), true), (3_000, Some(0)));
    // Three lines read together share the time since the process was free.
    let mut clock = BatchClock { now: ms(39), cursor: ms(30), left: 3 };
    let got: Vec<(u64, Option<u64>)> = (0..3).map(|_| clock.next(Some(t0), true)).collect();
    assert_eq!(got, vec![(3_000, Some(30_000)), (3_000, Some(33_000)), (3_000, Some(36_000))]);
    // A stray line takes its share; an out-of-order answer is timed from its send.
    let mut clock = BatchClock { now: ms(20), cursor: ms(10), left: 2 };
    assert_eq!(clock.next(None, true), (0, None));
    assert_eq!(clock.next(Some(ms(5)), false), (15_000, None));
}

#[test]
fn answers_are_gathered_only_from_a_fast_target_with_work_queued() {
    let t0 = Instant::now();
    let us = |n: u64| t0 + Duration::from_micros(n);
    let mut fast = Pace::new(64, Duration::from_secs(2));
    assert_eq!(fast.gather(1, 64), None, "nothing known yet");
    fast.answered(1, us(0));
    fast.answered(10, us(300)); // 30 µs per answer
    assert_eq!(fast.gather(1, 64), Some(Pace::READ_EVERY));
    assert_eq!(fast.gather(1, 10), None, "300 µs of work queued: it would idle");
    assert_eq!(fast.gather(200, 64), None, "reads already carry many lines");
    let mut slow = Pace::new(64, Duration::from_secs(2));
    slow.answered(1, us(0));
    slow.answered(1, us(5_000)); // 5 ms per answer: read at once
    assert_eq!(slow.gather(1, 64), None);
}
