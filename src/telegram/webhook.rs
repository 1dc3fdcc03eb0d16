//! Webhook mode: Telegram posts updates to us. Each request must carry the configured secret
//! (compared in constant time); an update is answered 200 only once it is stored, and 503 when
//! too many wait, so Telegram keeps it and retries.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use tokio::sync::{watch, Notify};

use super::inbox::store_updates;
use crate::metrics::Metrics;
use crate::settings::Secret;
use crate::store::Store;

/// The header Telegram sends the secret token in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// What the webhook needs: where updates go, and what it checks.
#[derive(Clone)]
pub struct Hook {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub clock: crate::clock::Clock,
    pub inbox: Arc<Notify>,
    pub secret: Secret,
    pub max_pending: u64,
}

/// Compares without an early exit, so timing does not reveal how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        let y = b.get(i % b.len().max(1)).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq(given, hook.secret.expose().as_bytes()) {
        tracing::warn!("webhook request without the right secret refused");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        // Telegram would resend a body we refuse forever; it is not an update we can use
        tracing::warn!(bytes = body.len(), "webhook body is not JSON; dropped");
        return StatusCode::OK;
    };
    // on a blocking thread: a database that stalls holds this request, not the runtime
    let now = hook.clock.now_ms();
    let (store, max_pending) = (hook.store.clone(), hook.max_pending);
    let stored = tokio::task::spawn_blocking(move || {
        if store.pending_count().unwrap_or(u64::MAX) >= max_pending {
            return Ok(None);
        }
        store_updates(store.as_ref(), std::slice::from_ref(&value), now).map(Some)
    })
    .await
    .unwrap_or_else(|e| Err(anyhow::anyhow!("the store task failed: {e}")));
    match stored {
        Ok(None) => StatusCode::SERVICE_UNAVAILABLE,
        Ok(Some(_)) => {
            hook.metrics.polled(now);
            hook.inbox.notify_one();
            StatusCode::OK
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot store a webhook update");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// The path Telegram posts to: the path of the public webhook URL.
pub fn path_of(webhook_url: &str) -> String {
    reqwest::Url::parse(webhook_url)
        .map(|u| u.path().to_string())
        .ok()
        .filter(|p| p.len() > 1)
        .unwrap_or_else(|| "/".to_string())
}

/// Serves the webhook on `listener` at `path` until shutdown.
pub async fn serve(
    listener: tokio::net::TcpListener,
    path: String,
    hook: Hook,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route(&path, post(receive))
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        .with_state(hook);
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(addr = ?addr, path = %path, "webhook listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_comparison() {
        assert!(constant_time_eq(b"abcdefghijklmnop", b"abcdefghijklmnop"));
        assert!(!constant_time_eq(b"abcdefghijklmnoq", b"abcdefghijklmnop"));
        assert!(!constant_time_eq(b"", b"abcdefghijklmnop"));
        assert!(!constant_time_eq(b"abcdefghijklmnopq", b"abcdefghijklmnop"));
    }

    #[test]
    fn webhook_path() {
        assert_eq!(path_of("https://bot.example.org/tg/hook"), "/tg/hook");
        assert_eq!(path_of("https://bot.example.org"), "/");
    }
}
