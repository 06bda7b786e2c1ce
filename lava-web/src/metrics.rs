//! `GET /metrics`: the lab's metrics in the OpenMetrics text format
//! (docs/metrics.md). Aggregates only (counts and histograms by device
//! type, health and state: no job, submitter or device name), so it is
//! served without credentials, like LAVA's public device-type pages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::server::AppState;

/// The last exposition and when it was computed. The page needs no
/// credentials and each computation scans the jobs table twice, so it is
/// computed at most once per `ttl` (`ServiceConfig::metrics_cache`, 5 s),
/// by one request at a time: the others wait (asynchronously, holding
/// neither a blocking thread nor a store connection) and share its result
/// (docs/metrics.md, "Cost").
pub(crate) struct MetricsCache {
    ttl: Duration,
    slot: tokio::sync::Mutex<Option<(Instant, Arc<str>)>>,
}

impl MetricsCache {
    pub(crate) fn new(ttl: Duration) -> MetricsCache {
        MetricsCache {
            ttl,
            slot: tokio::sync::Mutex::new(None),
        }
    }
}

/// The exposition, from the cache or computed from the store.
pub(crate) async fn handle(State(state): State<AppState>) -> Response {
    let cache = Arc::clone(&state.metrics);
    // held while computing: later requests queue here for the result
    let mut slot = cache.slot.lock().await;
    let body = match slot.as_ref() {
        Some((at, text)) if at.elapsed() < cache.ttl => Arc::clone(text),
        _ => {
            let rendered = state
                .blocking(|state| lava_scheduler::metrics::render_from_store(&state.store))
                .await;
            match rendered {
                Ok(text) => {
                    let text: Arc<str> = text.into();
                    *slot = Some((Instant::now(), Arc::clone(&text)));
                    text
                }
                Err(e) => {
                    log::error!("[HTTP] /metrics: cannot read the store: {e}");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the store\n")
                        .into_response();
                }
            }
        }
    };
    drop(slot);
    (
        [(header::CONTENT_TYPE, lava_scheduler::metrics::CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}
