//! The operators' HTTP listener (`ops.listen`): `/healthz` says whether the bot can work (index
//! loaded, store writable, Telegram reached recently) and which role the replica has (leader or
//! follower), and `/metrics` serves Prometheus metrics (`faqbot_leader` 1 or 0).
//! It carries no message text and needs no token.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::core::SharedEngine;
use crate::metrics::Metrics;
use crate::settings::{Settings, TelegramMode};
use crate::store::Store;

/// What the listener reads.
#[derive(Clone)]
pub struct Ops {
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn Store>,
    pub engine: SharedEngine,
    pub settings: Arc<Settings>,
    pub clock: Clock,
}

/// How stale the last successful poll may be before the bot counts as unhealthy.
fn poll_grace_ms(settings: &Settings) -> i64 {
    (i64::from(settings.telegram.poll_timeout_secs) + 60) * 1000
}

/// How long `/healthz` waits for the store before calling it unhealthy: a database that does
/// not answer (a network cut) must not make the health check hang too.
const STORE_PROBE: Duration = Duration::from_secs(2);

/// Whether the store takes a write within [`STORE_PROBE`]. The write runs on a blocking
/// thread, so a stalled database holds that thread, never the runtime's workers.
async fn store_writable(store: Arc<dyn Store>, now: i64) -> bool {
    let probe = tokio::task::spawn_blocking(move || store.set_meta("healthz", &now.to_string()));
    matches!(
        tokio::time::timeout(STORE_PROBE, probe).await,
        Ok(Ok(Ok(())))
    )
}

async fn healthz(State(ops): State<Ops>) -> impl IntoResponse {
    let passages = ops.engine.get().index().num_passages();
    let now = ops.clock.now_ms();
    let store_ok = store_writable(ops.store.clone(), now).await;
    let last = ops.metrics.last_poll_ms();
    let age = (last > 0).then(|| (now - last) / 1000);
    let leader = ops.metrics.is_leader();
    let telegram_ok = match ops.settings.telegram.mode {
        // only the leader polls; a follower standing by is healthy
        TelegramMode::Polling if !leader => true,
        TelegramMode::Polling => last > 0 && now - last <= poll_grace_ms(&ops.settings),
        // a webhook waits for Telegram; silence is not a fault
        TelegramMode::Webhook => true,
    };
    let healthy = passages > 0 && store_ok && telegram_ok;
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "index_passages": passages,
        "store": if store_ok { "ok" } else { "error" },
        "role": if leader { "leader" } else { "follower" },
        "mode": match ops.settings.telegram.mode { TelegramMode::Polling => "polling", TelegramMode::Webhook => "webhook" },
        "last_update_seconds_ago": age,
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

async fn metrics(State(ops): State<Ops>) -> impl IntoResponse {
    // gauges that mirror the store are read now, so they are never stale; on a blocking thread,
    // and -1 when the store does not answer in time
    let count =
        |r: crate::store::StoreResult<u64>| r.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let store = ops.store.clone();
    let read = tokio::task::spawn_blocking(move || {
        (
            count(store.pending_count()),
            count(store.outbox_len()),
            count(store.list_escalations(Some(true)).map(|v| v.len() as u64)),
        )
    });
    let (inbox, outbox, open) = match tokio::time::timeout(STORE_PROBE, read).await {
        Ok(Ok(counts)) => counts,
        _ => (-1, -1, -1),
    };
    ops.metrics.inbox_pending.set(inbox);
    ops.metrics.outbox_pending.set(outbox);
    ops.metrics.escalations_open.set(open);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ops.metrics.render(),
    )
}

/// Serves `/healthz` and `/metrics` until shutdown.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ops: Ops,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(ops);
    tracing::info!(addr = ?listener.local_addr().ok(), "ops listener up");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}
