//! The http target against a slow server: throughput at several
//! concurrencies, and the rate limit as the server's own log sees it.

use std::io::Write;
use std::time::{Duration, Instant};

/// A loopback server taking 50 ms per request (one thread per connection),
/// logging when each request arrived; returns its port and the log.
fn slow_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Instant>>>) {
    use std::io::{BufRead, Read};
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let arrivals = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let arrivals = arrivals.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let (mut line, mut length) = (String::new(), 0usize);
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    arrivals.lock().unwrap().push(Instant::now());
                    std::thread::sleep(Duration::from_millis(50));
                    let answer = "{\"decision\":\"allow\"}";
                    let response = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{answer}", answer.len());
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, log)
}

/// Throughput against a 50 ms server at concurrency 16, 64 and 256 (the
/// ceiling is concurrency / 0.05 s), then `rate-limit = 40`: the most
/// requests the server's own log saw in any one-second window.
pub fn bench_rate_limit() {
    use gauntlet::targets::http::{HttpConfig, HttpTarget};
    use gauntlet::targets::Target;
    let (port, log) = slow_server();
    let target = |concurrency: usize, rate_limit: Option<f64>| {
        HttpTarget::new(HttpConfig {
            url: format!("http://127.0.0.1:{port}/judge"),
            body: None,
            headers: vec![],
            answer: Default::default(),
            preset: None,
            concurrency,
            rate_limit,
            timeout: Duration::from_secs(30),
            retries: 0,
            ca_certs: None,
            client_cert: None,
        })
    };
    let all = super::load_cases(&super::generate_project(256 * 40));
    let cases = |n: usize| -> Vec<gauntlet::corpus::Case> { all[..n].to_vec() };
    for concurrency in [16, 64, 256] {
        let batch = cases(concurrency * 40);
        let t = target(concurrency, None);
        let start = Instant::now();
        t.replay(&batch, &()).unwrap();
        let rate = batch.len() as f64 / start.elapsed().as_secs_f64();
        let ceiling = concurrency as f64 / 0.05;
        println!(
            "rate: concurrency {concurrency}: {rate:.0} requests/s against a ceiling of {ceiling:.0} ({:.1}%)",
            100.0 * rate / ceiling
        );
    }
    log.lock().unwrap().clear();
    let batch = cases(400);
    let t = target(64, Some(40.0));
    let start = Instant::now();
    t.replay(&batch, &()).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let mut arrivals = log.lock().unwrap().clone();
    arrivals.sort();
    let most = (0..arrivals.len())
        .map(|i| arrivals[i..].iter().take_while(|a| a.duration_since(arrivals[i]) < Duration::from_secs(1)).count())
        .max()
        .unwrap_or(0);
    println!(
        "rate: rate-limit 40, concurrency 64: {} requests in {secs:.1} s = {:.1}/s; most in any one-second window of the server's log: {most}",
        batch.len(),
        batch.len() as f64 / secs
    );
}
