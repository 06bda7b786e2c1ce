//! Lab pages: the overview, devices, device types and workers, with their
//! recent jobs and health history; administrators change health here.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use lava_scheduler::model::{
    Device, DeviceHealth, DeviceType, JobState, Transition, Worker, WorkerHealth, WorkerState,
};
use lava_scheduler::store::{DeviceFilter, JobQuery};
use lava_scheduler::StoreError;
use serde_json::{json, Value};

use super::{error_page, job_row, render, store_failed, time, Visitor};
use crate::server::AppState;
use crate::views::hide_invisible_jobs;

/// Recent jobs shown on a device, device-type or worker page.
const RECENT: i64 = 10;

fn device_row(d: &Device) -> Value {
    json!({
        "hostname": d.hostname,
        "device_type": d.device_type,
        "worker": d.worker,
        "description": d.description,
        "state": d.state.label(),
        "health": d.health.label(),
        "tags": d.tags,
        "current_job": d.current_job,
    })
}

/// Rows of devices whose invisible current jobs were hidden.
fn device_rows(devices: &[Device]) -> Vec<Value> {
    devices.iter().map(device_row).collect()
}

fn worker_row(w: &Worker) -> Value {
    json!({
        "hostname": w.hostname,
        "description": w.description,
        "state": w.state.label(),
        "health": w.health.label(),
        "last_ping": time(w.last_ping),
        "job_limit": w.job_limit,
    })
}

fn type_row(t: &DeviceType, devices: &[Device]) -> Value {
    let of_type: Vec<&Device> = devices.iter().filter(|d| d.device_type == t.name).collect();
    json!({
        "name": t.name,
        "description": t.description,
        "aliases": t.aliases,
        "devices": of_type.len(),
        "idle": of_type.iter().filter(|d| d.state.label() == "Idle" && d.health.label() == "Good").count(),
        "busy": of_type.iter().filter(|d| d.current_job.is_some()).count(),
        "health_frequency": t.health_frequency,
        "health_denominator": format!("{:?}", t.health_denominator).to_lowercase(),
        "health_check_disabled": t.health_check_disabled,
    })
}

fn transition_row(t: &Transition) -> Value {
    json!({
        "at": time(Some(t.at)),
        "old": t.old,
        "new": t.new,
        "actor": t.actor,
        "reason": t.reason,
    })
}

/// `GET /` and `/scheduler/`: devices by state and health, workers, the
/// queue, the running jobs.
pub(super) async fn overview(State(state): State<AppState>, visitor: Visitor) -> Response {
    let viewer = visitor.caller.viewer();
    let found = state
        .blocking(move |s| {
            let mut devices = s.store.devices(&DeviceFilter::default())?;
            hide_invisible_jobs(&s.store, &viewer, &mut devices)?;
            let workers = s.store.workers(false)?;
            let mut queued = JobQuery::new(viewer.clone(), 1);
            queued.states = vec![JobState::Submitted];
            let queued = s.store.query_jobs(&queued)?.count;
            let mut running = JobQuery::new(viewer, 50);
            running.states = vec![
                JobState::Scheduling,
                JobState::Scheduled,
                JobState::Running,
                JobState::Canceling,
            ];
            let running = s.store.query_jobs(&running)?;
            Ok::<_, StoreError>((devices, workers, queued, running))
        })
        .await;
    let (devices, workers, queued, running) = match found {
        Ok(found) => found,
        Err(e) => return store_failed(e),
    };
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_health: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &devices {
        *by_state.entry(d.state.label()).or_default() += 1;
        *by_health.entry(d.health.label()).or_default() += 1;
    }
    let online = workers
        .iter()
        .filter(|w| w.state == WorkerState::Online)
        .count();
    render(
        &state,
        &visitor,
        "overview.html",
        json!({
            "devices": device_rows(&devices),
            "by_state": by_state,
            "by_health": by_health,
            "workers": workers.iter().map(worker_row).collect::<Vec<_>>(),
            "online": online,
            "offline": workers.len() - online,
            "queued": queued,
            "running": running.jobs.iter().map(job_row).collect::<Vec<_>>(),
            "running_count": running.count,
        }),
    )
}

/// `GET /scheduler/alldevices`.
pub(super) async fn devices(State(state): State<AppState>, visitor: Visitor) -> Response {
    let viewer = visitor.caller.viewer();
    match state
        .blocking(move |s| {
            let mut devices = s.store.devices(&DeviceFilter::default())?;
            hide_invisible_jobs(&s.store, &viewer, &mut devices)?;
            Ok::<_, StoreError>(device_rows(&devices))
        })
        .await
    {
        Ok(devices) => render(
            &state,
            &visitor,
            "devices.html",
            json!({ "devices": devices }),
        ),
        Err(e) => store_failed(e),
    }
}

fn missing(e: StoreError, what: &str) -> Response {
    match e {
        StoreError::NotFound { .. } => {
            error_page(StatusCode::NOT_FOUND, &format!("There is no {what}."))
        }
        e => store_failed(e),
    }
}

/// The newest jobs matching `query`'s filters (visibility applies).
fn recent(store: &lava_scheduler::SqlStore, mut query: JobQuery) -> Result<Vec<Value>, StoreError> {
    query.limit = RECENT;
    Ok(store.query_jobs(&query)?.jobs.iter().map(job_row).collect())
}

/// `GET /scheduler/device/HOSTNAME`.
pub(super) async fn device(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(hostname): Path<String>,
) -> Response {
    let viewer = visitor.caller.viewer();
    let name = hostname.clone();
    let found = state
        .blocking(move |s| {
            let device = s.store.device(&name)?;
            let mut query = JobQuery::new(viewer.clone(), RECENT);
            query.device = Some(name.clone());
            let jobs = recent(&s.store, query)?;
            let transitions = s.store.transitions("device", &name)?;
            // the current job's number only if the viewer may see it
            let current = match device.current_job {
                Some(id) => s
                    .store
                    .job(id)
                    .ok()
                    .filter(|j| j.visible_to(&viewer))
                    .map(|j| j.id),
                None => None,
            };
            Ok::<_, StoreError>((device, jobs, transitions, current))
        })
        .await;
    let (device, jobs, transitions, current) = match found {
        Ok(found) => found,
        Err(e) => return missing(e, &format!("device {hostname}")),
    };
    let mut row = device_row(&device);
    row["current_job"] = json!(current);
    render(
        &state,
        &visitor,
        "device.html",
        json!({
            "device": row,
            "jobs": jobs,
            "transitions": transitions.iter().rev().map(transition_row).collect::<Vec<_>>(),
            "healths": DeviceHealth::ALL.iter().map(|h| h.label()).collect::<Vec<_>>(),
        }),
    )
}

/// The administrator posting a form, or the answer to give.
fn admin_form(
    visitor: &Visitor,
    form: &HashMap<String, String>,
    what: &str,
) -> Result<String, Response> {
    visitor.check_form(form, what)?;
    let user = visitor.require_login()?;
    if !user.is_superuser {
        visitor.caller.refused(what, "not an administrator");
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "Only administrators change the health of devices and workers.",
        ));
    }
    Ok(user.username.clone())
}

/// A health form posted for a device or a worker: checked (CSRF, an
/// administrator, a known health), applied by `apply(store, health,
/// actor, reason)`, logged, answered with the object's page.
async fn change_health<H>(
    state: AppState,
    visitor: Visitor,
    form: HashMap<String, String>,
    kind: &'static str,
    name: String,
    parse: fn(&str) -> Option<H>,
    apply: impl FnOnce(&lava_scheduler::SqlStore, H, &str, &str) -> Result<(), StoreError>
        + Send
        + 'static,
) -> Response
where
    H: Copy + Send + std::fmt::Display + 'static,
{
    let actor = match admin_form(&visitor, &form, &format!("web {kind} health")) {
        Ok(actor) => actor,
        Err(r) => return r,
    };
    let wanted = form.get("health").map(String::as_str).unwrap_or("");
    let Some(health) = parse(wanted) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("'{wanted}' is not a {kind} health"),
        );
    };
    let reason = form.get("reason").cloned().unwrap_or_default();
    match state
        .blocking(move |s| apply(&s.store, health, &actor, &reason))
        .await
    {
        Ok(()) => {
            log::info!(
                "[HTTP] {kind} {name} health -> {health} by {} from {}",
                visitor.caller.name(),
                visitor.caller.address
            );
            let page = if kind == "device" { "device" } else { "worker" };
            Redirect::to(&format!("/scheduler/{page}/{name}")).into_response()
        }
        Err(e) => missing(e, &format!("{kind} {name}")),
    }
}

/// `POST /scheduler/device/HOSTNAME/health` with `health` and `reason`.
pub(super) async fn device_health(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(hostname): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let name = hostname.clone();
    change_health(
        state,
        visitor,
        form,
        "device",
        hostname,
        DeviceHealth::parse,
        move |store, health, actor, reason| {
            store
                .set_device_health(&name, health, actor, reason)
                .map(|_| ())
        },
    )
    .await
}

/// `GET /scheduler/device_types`.
pub(super) async fn device_types(State(state): State<AppState>, visitor: Visitor) -> Response {
    let found = state
        .blocking(|s| {
            Ok::<_, StoreError>((
                s.store.device_types()?,
                s.store.devices(&DeviceFilter::default())?,
            ))
        })
        .await;
    match found {
        Ok((types, devices)) => render(
            &state,
            &visitor,
            "device_types.html",
            json!({ "device_types": types.iter().map(|t| type_row(t, &devices)).collect::<Vec<_>>() }),
        ),
        Err(e) => store_failed(e),
    }
}

/// `GET /scheduler/device_type/NAME`.
pub(super) async fn device_type(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(name): Path<String>,
) -> Response {
    let viewer = visitor.caller.viewer();
    let wanted = name.clone();
    let found = state
        .blocking(move |s| {
            let device_type = s.store.device_type(&wanted)?;
            let mut devices = s.store.devices(&DeviceFilter {
                device_type: Some(wanted.clone()),
                ..DeviceFilter::default()
            })?;
            hide_invisible_jobs(&s.store, &viewer, &mut devices)?;
            let mut query = JobQuery::new(viewer, RECENT);
            query.device_type = Some(wanted);
            let jobs = recent(&s.store, query)?;
            Ok::<_, StoreError>((device_type, devices, jobs))
        })
        .await;
    match found {
        Ok((device_type, devices, jobs)) => render(
            &state,
            &visitor,
            "device_type.html",
            json!({
                "device_type": type_row(&device_type, &devices),
                "devices": device_rows(&devices),
                "jobs": jobs,
            }),
        ),
        Err(e) => missing(e, &format!("device type {name}")),
    }
}

/// `GET /scheduler/allworkers`.
pub(super) async fn workers(State(state): State<AppState>, visitor: Visitor) -> Response {
    match state.blocking(|s| s.store.workers(true)).await {
        Ok(workers) => render(
            &state,
            &visitor,
            "workers.html",
            json!({ "workers": workers.iter().map(worker_row).collect::<Vec<_>>() }),
        ),
        Err(e) => store_failed(e),
    }
}

/// `GET /scheduler/worker/HOSTNAME`.
pub(super) async fn worker(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(hostname): Path<String>,
) -> Response {
    let viewer = visitor.caller.viewer();
    let name = hostname.clone();
    let found = state
        .blocking(move |s| {
            let worker = s.store.worker(&name)?;
            let mut devices = s.store.devices(&DeviceFilter {
                worker: Some(name.clone()),
                include_retired: true,
                ..DeviceFilter::default()
            })?;
            let mut jobs = Vec::new();
            for device in &devices {
                let mut query = JobQuery::new(viewer.clone(), RECENT);
                query.device = Some(device.hostname.clone());
                jobs.extend(recent(&s.store, query)?);
            }
            jobs.sort_by(|a, b| b["id"].as_i64().cmp(&a["id"].as_i64()));
            jobs.truncate(RECENT as usize);
            let transitions = s.store.transitions("worker", &name)?;
            hide_invisible_jobs(&s.store, &viewer, &mut devices)?;
            Ok::<_, StoreError>((worker, device_rows(&devices), jobs, transitions))
        })
        .await;
    match found {
        Ok((worker, devices, jobs, transitions)) => render(
            &state,
            &visitor,
            "worker.html",
            json!({
                "worker": worker_row(&worker),
                "devices": devices,
                "jobs": jobs,
                "transitions": transitions.iter().rev().map(transition_row).collect::<Vec<_>>(),
                "healths": WorkerHealth::ALL.iter().map(|h| h.label()).collect::<Vec<_>>(),
            }),
        ),
        Err(e) => missing(e, &format!("worker {hostname}")),
    }
}

/// `POST /scheduler/worker/HOSTNAME/health` with `health` and `reason`.
pub(super) async fn worker_health(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(hostname): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let name = hostname.clone();
    change_health(
        state,
        visitor,
        form,
        "worker",
        hostname,
        WorkerHealth::parse,
        move |store, health, actor, reason| {
            store
                .set_worker_health(&name, health, actor, reason)
                .map(|_| ())
        },
    )
    .await
}
