//! Gauges read at scrape time, and AI latency.

use std::future::Future;
use std::time::Instant;

use quflux_core::{AI_GENERATION_QUEUE, PUBLISHING_QUEUE};

use crate::state::AppState;

/// Updates `quflux_queue_jobs{queue,state}` and `quflux_queue_lag_seconds{queue}` (how long
/// the oldest due job has waited; 0 when nothing is overdue).
pub(crate) async fn refresh_queue_gauges(state: &AppState) {
    let now = state.clock.now();
    for queue in [PUBLISHING_QUEUE, AI_GENERATION_QUEUE] {
        if let Ok(stats) = state.db.stats(queue).await {
            for (name, value) in [
                ("queued", stats.queued),
                ("running", stats.running),
                ("dead", stats.dead),
            ] {
                metrics::gauge!("quflux_queue_jobs", "queue" => queue, "state" => name)
                    .set(value as f64);
            }
        }
        if let Ok(next) = state.db.next_wakeup(&[queue.to_owned()]).await {
            let lag = next.map_or(0.0, |at| {
                (now - at).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("quflux_queue_lag_seconds", "queue" => queue).set(lag);
        }
    }
}

/// Runs an AI call and records `quflux_ai_request_duration_seconds{operation,outcome}`.
pub(crate) async fn timed_ai<T, F>(operation: &'static str, f: F) -> quflux_core::Result<T>
where
    F: Future<Output = quflux_core::Result<T>>,
{
    let start = Instant::now();
    let result = f.await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    };
    metrics::histogram!(
        "quflux_ai_request_duration_seconds",
        "operation" => operation,
        "outcome" => outcome
    )
    .record(start.elapsed().as_secs_f64());
    result
}
