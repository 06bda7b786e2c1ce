//! `/api/v0.2/devices/`, `devicetypes/`, `workers/`, `tags/`: the lab's
//! objects, public to every caller (as in LAVA without device permissions).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lava_scheduler::model::{Device, DeviceType, Worker};
use lava_scheduler::store::DeviceFilter;
use lava_scheduler::StoreError;
use serde_json::{json, Value};

use super::{detail, page_of, store_failed, Rest};
use crate::server::AppState;
use crate::views::{hide_invisible_jobs, iso_z, stable_id};

fn device_json(d: &Device) -> Value {
    json!({
        "hostname": d.hostname,
        "device_type": d.device_type,
        "device_version": Value::Null,
        "physical_owner": Value::Null,
        "physical_group": Value::Null,
        "description": d.description,
        "tags": d.tags.iter().map(|t| stable_id(t)).collect::<Vec<_>>(),
        "state": d.state.label(),
        "health": d.health.label(),
        "last_health_report_job": d.last_health_report_job,
        "worker_host": d.worker.clone().unwrap_or_default(),
        "is_synced": false,
        "current_job": d.current_job,
    })
}

fn device_type_json(t: &DeviceType) -> Value {
    json!({
        "name": t.name,
        "architecture": Value::Null,
        "processor": Value::Null,
        "cpu_model": Value::Null,
        "aliases": t.aliases,
        "bits": Value::Null,
        "cores": [],
        "core_count": Value::Null,
        "description": t.description,
        "health_frequency": t.health_frequency,
        "disable_health_check": t.health_check_disabled,
        "health_denominator": t.health_denominator.label(),
        "display": true,
    })
}

fn worker_json(w: &Worker) -> Value {
    json!({
        "hostname": w.hostname,
        "state": w.state.label(),
        "health": w.health.label(),
        "description": w.description,
        "last_ping": w.last_ping.map(iso_z),
        "job_limit": w.job_limit,
        "version": Value::Null,
    })
}

async fn listed<T, F>(state: &AppState, fetch: F) -> Result<T, Response>
where
    F: FnOnce(&AppState) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    state.blocking(fetch).await.map_err(store_failed)
}

fn not_found(e: StoreError) -> Response {
    match e {
        StoreError::NotFound { .. } => detail(StatusCode::NOT_FOUND, "Not found."),
        other => store_failed(other),
    }
}

/// `GET devices/`.
pub(super) async fn devices(
    State(state): State<AppState>,
    Rest(caller): Rest,
    headers: HeaderMap,
    query: Query<HashMap<String, String>>,
) -> Response {
    let viewer = caller.viewer();
    match listed(&state, move |s| {
        let mut devices = s.store.devices(&DeviceFilter {
            include_retired: true,
            ..Default::default()
        })?;
        hide_invisible_jobs(&s.store, &viewer, &mut devices)?;
        Ok(devices)
    })
    .await
    {
        Ok(devices) => page_of(
            &headers,
            "/api/v0.2/devices/",
            query,
            devices.iter().map(device_json).collect(),
            "hostname",
        ),
        Err(r) => r,
    }
}

/// `GET devices/HOSTNAME/`.
pub(super) async fn device(
    State(state): State<AppState>,
    Rest(caller): Rest,
    Path(hostname): Path<String>,
) -> Response {
    let viewer = caller.viewer();
    match state
        .blocking(move |s| {
            let mut found = [s.store.device(&hostname)?];
            hide_invisible_jobs(&s.store, &viewer, &mut found)?;
            let [d] = found;
            Ok::<_, StoreError>(d)
        })
        .await
    {
        Ok(d) => Json(device_json(&d)).into_response(),
        Err(e) => not_found(e),
    }
}

/// `GET devicetypes/`.
pub(super) async fn device_types(
    State(state): State<AppState>,
    _caller: Rest,
    headers: HeaderMap,
    query: Query<HashMap<String, String>>,
) -> Response {
    match listed(&state, |s| s.store.device_types()).await {
        Ok(types) => page_of(
            &headers,
            "/api/v0.2/devicetypes/",
            query,
            types.iter().map(device_type_json).collect(),
            "name",
        ),
        Err(r) => r,
    }
}

/// `GET devicetypes/NAME/`.
pub(super) async fn device_type(
    State(state): State<AppState>,
    _caller: Rest,
    Path(name): Path<String>,
) -> Response {
    match state.blocking(move |s| s.store.device_type(&name)).await {
        Ok(t) => Json(device_type_json(&t)).into_response(),
        Err(e) => not_found(e),
    }
}

/// `GET workers/`.
pub(super) async fn workers(
    State(state): State<AppState>,
    _caller: Rest,
    headers: HeaderMap,
    query: Query<HashMap<String, String>>,
) -> Response {
    match listed(&state, |s| s.store.workers(true)).await {
        Ok(workers) => page_of(
            &headers,
            "/api/v0.2/workers/",
            query,
            workers.iter().map(worker_json).collect(),
            "hostname",
        ),
        Err(r) => r,
    }
}

/// `GET workers/HOSTNAME/`.
pub(super) async fn worker(
    State(state): State<AppState>,
    _caller: Rest,
    Path(hostname): Path<String>,
) -> Response {
    match state.blocking(move |s| s.store.worker(&hostname)).await {
        Ok(w) => Json(worker_json(&w)).into_response(),
        Err(e) => not_found(e),
    }
}

/// `GET tags/`.
pub(super) async fn tags(
    State(state): State<AppState>,
    _caller: Rest,
    headers: HeaderMap,
    query: Query<HashMap<String, String>>,
) -> Response {
    match listed(&state, |s| s.store.tags()).await {
        Ok(tags) => {
            let items = tags
                .iter()
                .map(|t| json!({ "id": stable_id(&t.name), "name": t.name, "description": t.description }))
                .collect();
            page_of(&headers, "/api/v0.2/tags/", query, items, "id")
        }
        Err(r) => r,
    }
}
