//! Job queue benchmark on PostgreSQL (see BENCHMARKS.md for the figures and how they were run).
//!
//! ```text
//! cargo bench --bench queue --no-run        # build it; the binary path is printed
//! PB_DB_URL=postgres://postgres@127.0.0.1:5432/quflux_bench <binary> <command> ...
//!
//! enqueue N [chunk]            bulk-enqueue N no-op jobs, `chunk` per call (10,000) RESULT {"jobs_per_s"}
//! enqueue-single N [tasks]     N single enqueues from `tasks` tasks RESULT {"jobs_per_s"}
//! drain N [concurrency]        run the worker until N handlers ran  RESULT {"seconds","jobs_per_s","startup_ms","handler_calls","remaining_after_stop","peak_rss_mib"}
//! drain-strict N               one job per transaction              RESULT {"seconds","jobs_per_s","handler_calls"}
//! latency-worker K             READY, then LAT {"i","start_ms"} per job, exits after K
//! latency-producer K           K jobs with 300-800 ms gaps, ENQ {"i","t0_ms","t1_ms"} each
//! latency K                    runs both as child processes        RESULT {"p50_ms","p95_ms","max_ms"}
//! scheduled K                  K jobs due at one instant            RESULT {"p50_ms","p95_ms","p99_ms","max_ms"}
//! ceiling N [clients]          pgbench claim+complete (1 job/tx)    RESULT {"tps"}
//! ```
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use quflux::store::postgres::PostgresStore;
use quflux::worker::{JobHandler, JobOutcome, Worker, WorkerConfig};
use quflux::{Job, JobQueue, NewJob};
use rand::Rng;
use tokio::sync::Notify;

const QUEUE: &str = "bench";
const KIND: &str = "noop";

fn db_url() -> String {
    std::env::var("PB_DB_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/quflux_bench".into())
}

fn now_ms() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1000.0
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn job(i: u64) -> NewJob {
    NewJob::new(QUEUE, KIND, serde_json::json!({ "i": i }), Utc::now())
}

async fn open() -> PostgresStore {
    let url = db_url();
    ensure_database(&url).await;
    PostgresStore::open(&url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {}", e.detailed_message()))
}

/// Creates the benchmark database if it does not exist.
async fn ensure_database(url: &str) {
    let Some((base, name)) = url.rsplit_once('/') else {
        return;
    };
    let name = name.split('?').next().unwrap_or(name);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return;
    }
    let admin = format!("{base}/postgres");
    if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&pool)
                .await
                .unwrap_or(true);
        if !exists {
            let _ = sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await;
        }
        pool.close().await;
    }
}

async fn purge(store: &PostgresStore) {
    sqlx::query("DELETE FROM jobs WHERE queue = $1")
        .bind(QUEUE)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE jobs")
        .execute(store.pool())
        .await
        .unwrap();
}

async fn remaining(store: &PostgresStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE queue = $1")
        .bind(QUEUE)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Seeds `n` jobs for the drain-type benchmarks: sequential 5,000-job batches, so that the
/// seeding does not raise the process's peak memory above what the worker itself uses.
async fn bulk_enqueue(store: &PostgresStore, n: u64) {
    let mut i = 0;
    while i < n {
        let chunk: Vec<NewJob> = (i..(i + 5_000).min(n)).map(job).collect();
        i += chunk.len() as u64;
        store.enqueue_batch(chunk).await.unwrap();
    }
}

async fn bulk_enqueue_chunked(store: &PostgresStore, n: u64, chunk_size: u64) {
    // Two batches in flight: the next one is built and sent while the previous one commits.
    let mut in_flight = tokio::task::JoinSet::new();
    let mut i = 0;
    while i < n {
        let chunk: Vec<NewJob> = (i..(i + chunk_size.max(1)).min(n)).map(job).collect();
        i += chunk.len() as u64;
        if in_flight.len() >= 2 {
            in_flight.join_next().await.unwrap().unwrap();
        }
        let store = store.clone();
        in_flight.spawn(async move {
            store.enqueue_batch(chunk).await.unwrap();
        });
    }
    while let Some(r) = in_flight.join_next().await {
        r.unwrap();
    }
}

#[derive(Debug, Default)]
struct Noop {
    calls: AtomicU64,
    target: u64,
    first_call: std::sync::OnceLock<Instant>,
    done: Notify,
    lag_ms: std::sync::Mutex<Vec<f64>>,
    record_lag: bool,
    print_lat: bool,
}

#[async_trait]
impl JobHandler for Noop {
    async fn handle(&self, job: &Job) -> JobOutcome {
        let _ = self.first_call.set(Instant::now());
        if self.record_lag {
            let lag = (Utc::now() - job.run_at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
            self.lag_ms.lock().unwrap().push(lag);
        }
        if self.print_lat {
            let i = job.payload.get("i").and_then(|v| v.as_u64()).unwrap_or(0);
            let line = format!("LAT {{\"i\":{i},\"start_ms\":{:.3}}}\n", now_ms());
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 >= self.target {
            self.done.notify_one();
        }
        JobOutcome::Done
    }
}

fn worker_config(concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        queues: vec![QUEUE.into()],
        concurrency,
        claim_batch: (concurrency / 2).max(1),
        lease: Duration::from_secs(60),
        max_idle: Duration::from_secs(60),
        ..WorkerConfig::default()
    }
}

async fn wait_done(handler: &Noop) {
    while handler.calls.load(Ordering::SeqCst) < handler.target {
        tokio::select! {
            _ = handler.done.notified() => {},
            _ = tokio::time::sleep(Duration::from_millis(100)) => {},
        }
    }
}

async fn cmd_enqueue(n: u64, chunk: u64) {
    let store = open().await;
    purge(&store).await;
    let start = Instant::now();
    bulk_enqueue_chunked(&store, n, chunk).await;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "RESULT {{\"jobs\":{n},\"seconds\":{secs:.3},\"jobs_per_s\":{:.0}}}",
        n as f64 / secs
    );
    purge(&store).await;
}

async fn cmd_enqueue_single(n: u64, tasks: u64) {
    let store = Arc::new(open().await);
    purge(&store).await;
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        let count = n / tasks + u64::from(t < n % tasks);
        handles.push(tokio::spawn(async move {
            for i in 0..count {
                store.enqueue(job(i)).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "RESULT {{\"jobs\":{n},\"tasks\":{tasks},\"seconds\":{secs:.3},\"jobs_per_s\":{:.0}}}",
        n as f64 / secs
    );
    purge(&store).await;
}

async fn cmd_drain(n: u64, concurrency: usize) {
    let store = Arc::new(open().await);
    purge(&store).await;
    bulk_enqueue(&store, n).await;
    let handler = Arc::new(Noop {
        target: n,
        ..Default::default()
    });
    let start = Instant::now();
    let worker = Worker::new(store.clone(), worker_config(concurrency))
        .with_handler(KIND, handler.clone())
        .spawn();
    wait_done(&handler).await;
    let secs = start.elapsed().as_secs_f64();
    worker.shutdown().await.unwrap();
    let startup_ms = handler
        .first_call
        .get()
        .map_or(0.0, |t| (*t - start).as_secs_f64() * 1000.0);
    let left = remaining(&store).await;
    println!(
        "RESULT {{\"jobs\":{n},\"concurrency\":{concurrency},\"seconds\":{secs:.3},\"jobs_per_s\":{:.0},\"startup_ms\":{startup_ms:.1},\"handler_calls\":{},\"remaining_after_stop\":{left},\"peak_rss_mib\":{:.1}}}",
        n as f64 / secs,
        handler.calls.load(Ordering::SeqCst),
        peak_rss_mib()
    );
    purge(&store).await;
}

async fn cmd_drain_strict(n: u64) {
    let store = Arc::new(open().await);
    purge(&store).await;
    bulk_enqueue(&store, n).await;
    let start = Instant::now();
    let mut calls = 0u64;
    let queues = vec![QUEUE.to_owned()];
    while calls < n {
        match store.claim_strict(&queues, "strict-bench").await.unwrap() {
            Some(job) => {
                job.complete().await.unwrap();
                calls += 1;
            }
            None => break,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "RESULT {{\"jobs\":{n},\"seconds\":{secs:.3},\"jobs_per_s\":{:.0},\"handler_calls\":{calls}}}",
        calls as f64 / secs
    );
    purge(&store).await;
}

async fn cmd_latency_worker(k: u64) {
    let store = Arc::new(open().await);
    purge(&store).await;
    let handler = Arc::new(Noop {
        target: k,
        print_lat: true,
        ..Default::default()
    });
    let worker = Worker::new(store.clone(), worker_config(8))
        .with_handler(KIND, handler.clone())
        .spawn();
    // Let the worker reach its idle wait (and LISTEN) before announcing readiness.
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("READY");
    std::io::stdout().flush().unwrap();
    wait_done(&handler).await;
    worker.shutdown().await.unwrap();
}

async fn cmd_latency_producer(k: u64) {
    let store = open().await;
    for i in 0..k {
        let gap = rand::rng().random_range(300..=800);
        tokio::time::sleep(Duration::from_millis(gap)).await;
        let t0 = now_ms();
        store.enqueue(job(i)).await.unwrap();
        let t1 = now_ms();
        println!("ENQ {{\"i\":{i},\"t0_ms\":{t0:.3},\"t1_ms\":{t1:.3}}}");
        std::io::stdout().flush().unwrap();
    }
    // Cross-process wake-ups are sent just after each commit by a background task; let the
    // last one go out before the process exits.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

fn cmd_latency(k: u64) {
    let exe = std::env::current_exe().unwrap();
    let mut worker = Command::new(&exe)
        .args(["latency-worker", &k.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(worker.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap() == "READY" {
            break;
        }
    }
    let producer = Command::new(&exe)
        .args(["latency-producer", &k.to_string()])
        .output()
        .unwrap();
    let mut enq = std::collections::HashMap::new();
    for line in String::from_utf8_lossy(&producer.stdout).lines() {
        if let Some(json) = line.strip_prefix("ENQ ") {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            enq.insert(
                v["i"].as_u64().unwrap(),
                (v["t0_ms"].as_f64().unwrap(), v["t1_ms"].as_f64().unwrap()),
            );
        }
    }
    // From the enqueue's commit (t1: the job became visible) and from before the enqueue call (t0).
    let (mut lat, mut lat_t0) = (Vec::new(), Vec::new());
    for line in lines {
        let line = line.unwrap();
        if let Some(json) = line.strip_prefix("LAT ") {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            if let Some((t0, t1)) = enq.get(&v["i"].as_u64().unwrap()) {
                let start = v["start_ms"].as_f64().unwrap();
                lat.push(start - t1);
                lat_t0.push(start - t0);
            }
        }
    }
    let _ = worker.wait();
    lat.sort_by(f64::total_cmp);
    lat_t0.sort_by(f64::total_cmp);
    println!(
        "RESULT {{\"samples\":{},\"p50_ms\":{:.2},\"p95_ms\":{:.2},\"max_ms\":{:.2},\"p50_from_enqueue_call_ms\":{:.2},\"p95_from_enqueue_call_ms\":{:.2}}}",
        lat.len(),
        percentile(&lat, 50.0),
        percentile(&lat, 95.0),
        lat.last().copied().unwrap_or(0.0),
        percentile(&lat_t0, 50.0),
        percentile(&lat_t0, 95.0)
    );
}

async fn cmd_scheduled(k: u64) {
    let store = Arc::new(open().await);
    purge(&store).await;
    let handler = Arc::new(Noop {
        target: k,
        record_lag: true,
        ..Default::default()
    });
    let worker = Worker::new(store.clone(), worker_config(64))
        .with_handler(KIND, handler.clone())
        .spawn();
    let due = Utc::now() + chrono::Duration::seconds(3);
    let mut i = 0;
    while i < k {
        let chunk: Vec<NewJob> = (i..(i + 5_000).min(k))
            .map(|i| job(i).with_run_at(due))
            .collect();
        i += chunk.len() as u64;
        store.enqueue_batch(chunk).await.unwrap();
    }
    assert!(
        Utc::now() < due,
        "enqueueing took longer than the lead time"
    );
    wait_done(&handler).await;
    worker.shutdown().await.unwrap();
    let mut lag = handler.lag_ms.lock().unwrap().clone();
    lag.sort_by(f64::total_cmp);
    println!(
        "RESULT {{\"jobs\":{k},\"p50_ms\":{:.2},\"p95_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
        percentile(&lag, 50.0),
        percentile(&lag, 95.0),
        percentile(&lag, 99.0),
        lag.last().copied().unwrap_or(0.0)
    );
    purge(&store).await;
}

async fn cmd_ceiling(n: u64, clients: u32) {
    let store = open().await;
    purge(&store).await;
    bulk_enqueue(&store, n).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/pgbench/claim_complete.sql"
    );
    let url = db_url();
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-f",
            script,
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-t",
        ])
        .arg((n / u64::from(clients)).to_string())
        .arg(&url)
        .output()
        .expect("pgbench on PATH");
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0);
    if tps == 0.0 {
        eprintln!("{text}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    println!("RESULT {{\"jobs\":{n},\"clients\":{clients},\"tps\":{tps:.0}}}");
    purge(&store).await;
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n = |i: usize, d: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let Some(cmd) = args.first().cloned() else {
        eprintln!(
            "usage: queue <enqueue|enqueue-single|drain|drain-strict|latency|latency-worker|latency-producer|scheduled|ceiling> [N] ..."
        );
        // `cargo bench` with no arguments: nothing to do.
        return ExitCode::SUCCESS;
    };
    if cmd == "latency" {
        cmd_latency(n(1, 100));
        return ExitCode::SUCCESS;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match cmd.as_str() {
            "enqueue" => cmd_enqueue(n(1, 100_000), n(2, 10_000)).await,
            "enqueue-single" => cmd_enqueue_single(n(1, 20_000), n(2, 10)).await,
            "drain" => cmd_drain(n(1, 100_000), n(2, 768) as usize).await,
            "drain-strict" => cmd_drain_strict(n(1, 10_000)).await,
            "latency-worker" => cmd_latency_worker(n(1, 100)).await,
            "latency-producer" => cmd_latency_producer(n(1, 100)).await,
            "scheduled" => cmd_scheduled(n(1, 10_000)).await,
            "ceiling" => cmd_ceiling(n(1, 20_000), n(2, 1) as u32).await,
            other => {
                eprintln!("unknown command {other}");
                std::process::exit(2);
            }
        }
    });
    ExitCode::SUCCESS
}
