//! REST API v0.2 at `/api/v0.2/`: DRF's shapes as LAVA serves them
//! (docs/api.md): pages of `{count, next, previous, results}` with
//! absolute `next` links, `limit`/`offset`, display names for states and
//! healths, `Authorization: Token ...`.

mod jobs;
mod lab;

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::{authenticate, Caller};
use crate::server::{AppState, MAX_PAGE};

/// The default page size, as LAVA's DRF settings.
const DEFAULT_PAGE: i64 = 50;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/jobs/", get(jobs::list).post(jobs::submit))
        .route("/jobs/{id}/", get(jobs::show))
        .route("/jobs/{id}/cancel/", get(jobs::cancel).post(jobs::cancel))
        .route(
            "/jobs/{id}/resubmit/",
            get(jobs::resubmit).post(jobs::resubmit),
        )
        .route("/jobs/{id}/logs/", get(jobs::logs))
        .route("/jobs/{id}/tests/", get(jobs::tests))
        .route("/jobs/{id}/suites/", get(jobs::suites))
        .route("/jobs/{id}/suites/{suite}/tests/", get(jobs::suite_tests))
        .route("/jobs/{id}/junit/", get(jobs::junit))
        .route("/jobs/{id}/csv/", get(jobs::csv))
        .route("/jobs/{id}/yaml/", get(jobs::yaml))
        .route("/devices/", get(lab::devices))
        .route("/devices/{hostname}/", get(lab::device))
        .route("/devicetypes/", get(lab::device_types))
        .route("/devicetypes/{name}/", get(lab::device_type))
        .route("/workers/", get(lab::workers))
        .route("/workers/{hostname}/", get(lab::worker))
        .route("/tags/", get(lab::tags))
}

async fn root(headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    Json(json!({
        "jobs": format!("{base}/api/v0.2/jobs/"),
        "devices": format!("{base}/api/v0.2/devices/"),
        "devicetypes": format!("{base}/api/v0.2/devicetypes/"),
        "workers": format!("{base}/api/v0.2/workers/"),
        "tags": format!("{base}/api/v0.2/tags/"),
    }))
}

/// An error answer: `{"detail": ...}` with a status.
pub(crate) fn detail(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({ "detail": text.into() }))).into_response()
}

/// The store failed: 500, logged.
pub(crate) fn store_failed(e: impl std::fmt::Display) -> Response {
    log::error!("[REST] store error: {e}");
    detail(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the server failed: {e}"),
    )
}

/// The authenticated caller of a REST request (a bad token is refused
/// with 403 before the handler runs).
pub(crate) struct Rest(pub Caller);

impl FromRequestParts<AppState> for Rest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let address = crate::auth::peer(parts);
        match authenticate(state, &parts.headers, address).await {
            Ok(caller) => Ok(Rest(caller)),
            Err(failure) => {
                let path = parts
                    .extensions
                    .get::<axum::extract::OriginalUri>()
                    .map_or_else(|| parts.uri.path().to_string(), |u| u.path().to_string());
                failure.log(address, &path);
                Err(detail(StatusCode::FORBIDDEN, "Invalid token."))
            }
        }
    }
}

/// `scheme://host` of the request, for DRF's absolute links.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// `limit` and `offset` of a list request.
pub(crate) struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    pub fn from(query: &HashMap<String, String>) -> Result<Paging, Response> {
        let number = |key: &str, default: i64| -> Result<i64, Response> {
            match query.get(key) {
                None => Ok(default),
                Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    detail(
                        StatusCode::BAD_REQUEST,
                        format!("{key} must be a non-negative integer, not '{v}'"),
                    )
                }),
            }
        };
        Ok(Paging {
            limit: number("limit", DEFAULT_PAGE)?.clamp(1, MAX_PAGE),
            offset: number("offset", 0)?,
        })
    }
}

/// A DRF page with absolute `next`/`previous` links that keep the other
/// query parameters.
pub(crate) fn page(
    headers: &HeaderMap,
    path: &str,
    query: &HashMap<String, String>,
    paging: &Paging,
    count: i64,
    results: Vec<Value>,
) -> Response {
    let link = |offset: i64| -> String {
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| *k != "offset" && *k != "limit")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        pairs.push(("limit".into(), paging.limit.to_string()));
        if offset > 0 {
            pairs.push(("offset".into(), offset.to_string()));
        }
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("{}{path}?{}", base_url(headers), encoded.join("&"))
    };
    let next = (paging.offset + paging.limit < count).then(|| link(paging.offset + paging.limit));
    let previous = (paging.offset > 0).then(|| link((paging.offset - paging.limit).max(0)));
    Json(json!({ "count": count, "next": next, "previous": previous, "results": results }))
        .into_response()
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~,".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A list whose items are all in memory (devices, workers, ...): ordered,
/// then one page of it.
pub(crate) fn page_of(
    headers: &HeaderMap,
    path: &str,
    Query(query): Query<HashMap<String, String>>,
    mut items: Vec<Value>,
    default_order: &str,
) -> Response {
    let paging = match Paging::from(&query) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ordering = query
        .get("ordering")
        .map(String::as_str)
        .unwrap_or(default_order);
    let (descending, key) = match ordering.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, ordering),
    };
    items.sort_by(|a, b| {
        let order = compare(&a[key], &b[key]);
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    let count = items.len() as i64;
    let results = items
        .into_iter()
        .skip(paging.offset as usize)
        .take(paging.limit as usize)
        .collect();
    page(headers, path, &query, &paging, count, results)
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}
