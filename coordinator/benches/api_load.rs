//! Create-request load on loopback: the API on SQLite (WAL, group commit: no answer before
//! its commit is fsynced) in-process,
//! clients on threads with keep-alive connections. An open-loop run at a fixed rate
//! measures latency from each request's scheduled start (no coordinated omission); a
//! closed-loop run measures the most it takes.
//!
//!     cargo bench -p coordinator --bench api_load [-- RATE SECONDS]
//!
//! With `STRONGROOM_BENCH_PG='host=… port=… user=… dbname=…'` the store is that
//! PostgreSQL database (use an empty one) instead of a new SQLite file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coordinator::api::{router, token_hash, AppState, Config};
use coordinator::risk::RiskConfig;
use coordinator::store::{Sqlite, Store};

const RISK: &str = include_str!("api_load_risk.toml");

fn body(i: usize) -> String {
    format!(
        "{{\"network\":\"regtest\",\"asset\":\"native\",\"destination\":\"bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080\",\"amount\":\"{}\",\"purpose\":\"withdrawal\"}}",
        1000 + i
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let rate: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000.0);
    let secs: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let dir = std::env::temp_dir().join(format!("strongroom-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (store, backend): (Arc<dyn Store>, &str) = match std::env::var("STRONGROOM_BENCH_PG") {
        Ok(params) => (
            Arc::new(coordinator::store::Postgres::connect(&params).unwrap()),
            "PostgreSQL",
        ),
        Err(_) => (
            Arc::new(Sqlite::open(&dir.join("coordinator.db")).unwrap()),
            "SQLite",
        ),
    };
    // Several warm-tier principals, as several services would be.
    let principals = 8;
    for p in 0..principals {
        store
            .add_token(
                &token_hash(&format!("tok-{p}")),
                &format!("svc-{p}"),
                &["warm-tier".into()],
                1,
            )
            .unwrap();
    }
    let state = Arc::new(AppState::new(
        store.clone(),
        Config {
            networks: vec!["regtest".into()],
            risk: RiskConfig::from_toml(RISK).unwrap().into(),
        },
        Box::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        }),
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/v1/requests", listener.local_addr().unwrap());
    rt.spawn(async move {
        let _ = axum::serve(listener, router(state)).await;
    });

    let send = |agent: &ureq::Agent, i: usize| -> bool {
        agent
            .post(&url)
            .header("authorization", &format!("Bearer tok-{}", i % principals))
            .header("idempotency-key", &format!("load-{i}"))
            .header("content-type", "application/json")
            .send(body(i).as_str())
            .map(|r| r.status().as_u16() == 201)
            .unwrap_or(false)
    };

    // Open loop at `rate`.
    let total = (rate * secs) as usize;
    let threads = 32;
    let t0 = Instant::now() + Duration::from_millis(200);
    let agents: Vec<(usize, ureq::Agent)> = (0..threads)
        .map(|t| {
            (
                t,
                ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into(),
            )
        })
        .collect();
    let results: Vec<(Vec<(f64, f64)>, usize)> = std::thread::scope(|s| {
        let hs: Vec<_> = agents
            .iter()
            .map(|(t, agent)| {
                let send = &send;
                s.spawn(move || {
                    let mut lat = Vec::new();
                    let mut errors = 0;
                    let mut k = *t;
                    while k < total {
                        let due = t0 + Duration::from_secs_f64(k as f64 / rate);
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        if !send(agent, k) {
                            errors += 1;
                        }
                        lat.push((
                            (Instant::now() - due).as_secs_f64() * 1e3,
                            (due - t0).as_secs_f64(),
                        ));
                        k += threads;
                    }
                    (lat, errors)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = (Instant::now() - t0).as_secs_f64();
    let mut timed: Vec<(f64, f64)> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
    timed.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    // Where the slowest 1 % were scheduled: a stall shows as one cluster in time.
    let slow: Vec<f64> = timed.iter().take(timed.len() / 100).map(|t| t.1).collect();
    let mut lat: Vec<f64> = timed.iter().map(|t| t.0).collect();
    let errors: usize = results.iter().map(|r| r.1).sum();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "open loop, {backend}: {} creates at {rate:.0}/s over {elapsed:.1} s: achieved {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {errors}",
        lat.len(),
        lat.len() as f64 / elapsed,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0)
    );

    if let (Some(first), Some(last)) = (
        slow.iter().copied().reduce(f64::min),
        slow.iter().copied().reduce(f64::max),
    ) {
        println!("slowest 1 % scheduled between {first:.2} s and {last:.2} s of the run");
    }

    // Closed loop: 8 clients as fast as they can for 3 s.
    let start = Instant::now();
    let done: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let send = &send;
                s.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let mut n = 0;
                    let mut k = total + t;
                    while start.elapsed() < Duration::from_secs(3) {
                        if send(&agent, k) {
                            n += 1;
                        }
                        k += 8;
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    println!(
        "closed loop, {backend}, 8 clients: {done} creates in 3 s = {:.0}/s",
        done as f64 / 3.0
    );
    let rows = store.audit_rows(1, usize::MAX).unwrap();
    coordinator::audit::verify(&rows, None).unwrap();
    println!("audit chain after the run: {} rows, intact", rows.len());
}
