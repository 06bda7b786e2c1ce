//! `/api/v0.2/jobs/...`: list with DRF's filters, detail, submit, cancel,
//! resubmit, logs (streamed by line range), test results and exports.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lava_scheduler::accounts::Accounts;
use lava_scheduler::model::{Job, JobHealth, JobNumber, JobState, TestCase, Timestamp};
use lava_scheduler::results::{export, Format};
use lava_scheduler::store::{JobOrder, JobQuery};
use lava_scheduler::submit::{SubmitError, Submitted};
use lava_scheduler::StoreError;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{base_url, detail, page, store_failed, Paging, Rest};
use crate::auth::Caller;
use crate::server::AppState;
use crate::views::{iso_z, may_change, stable_id, submit_refusal, visible_job, JobRefusal};

fn opt_time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(iso_z(t)))
}

fn job_json(job: &Job, group_ids: &HashMap<String, i64>) -> Value {
    json!({
        "id": job.id,
        "submitter": job.submitter,
        "viewing_groups": job.viewing_groups.iter().filter_map(|g| group_ids.get(g)).collect::<Vec<_>>(),
        "description": job.description,
        "health_check": job.health_check,
        "requested_device_type": job.requested_device_type,
        "tags": job.tags.iter().map(|t| stable_id(t)).collect::<Vec<_>>(),
        "actual_device": job.actual_device,
        "submit_time": iso_z(job.submit_time),
        "start_time": opt_time(job.start_time),
        "end_time": opt_time(job.end_time),
        "state": job.state.label(),
        "health": job.health.label(),
        "priority": job.priority,
        "definition": job.definition,
        "original_definition": job.original_definition,
        "multinode_definition": job.multinode_definition,
        // our extension: "<first id>.<k>" for a multinode sub-job, else ""
        "sub_id": job.sub_id,
        "failure_tags": [],
        "failure_comment": job.failure_comment,
        "visibility": job.visibility.label(),
    })
}

fn group_ids(s: &AppState, jobs: &[Job]) -> Result<HashMap<String, i64>, StoreError> {
    if jobs.iter().all(|j| j.viewing_groups.is_empty()) {
        return Ok(HashMap::new());
    }
    Ok(s.store
        .groups()?
        .into_iter()
        .map(|g| (g.name, g.id))
        .collect())
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An ISO 8601 time (`2026-12-06`, `2026-12-06T20:47:58.725291Z`,
/// `...+00:00`) in microseconds; offsets other than UTC are applied.
pub(crate) fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let num = |s: &str| s.parse::<i64>().ok();
    let (date, rest) = text.split_at(text.len().min(10));
    let mut parts = date.split('-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut micros = days_from_civil(y, m, d) * 86_400_000_000;
    let rest = rest.strip_prefix(['T', ' ']).unwrap_or(rest);
    if rest.is_empty() {
        return Some(micros);
    }
    let (clock, zone) = match rest.find(['Z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut fields = hms.split(':');
    let h = num(fields.next()?)?;
    let mi = num(fields.next().unwrap_or("0"))?;
    let sec = num(fields.next().unwrap_or("0"))?;
    micros += ((h * 60 + mi) * 60 + sec) * 1_000_000;
    if !fraction.is_empty() {
        let digits: String = fraction.chars().chain("000000".chars()).take(6).collect();
        micros += num(&digits)?;
    }
    match zone {
        "" | "Z" => {}
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (zh, zm) = z[1..].split_once(':').unwrap_or((&z[1..], "0"));
            micros -= sign * (num(zh)? * 60 + num(zm)?) * 60_000_000;
        }
    }
    Some(micros)
}

fn bad(text: String) -> Response {
    detail(StatusCode::BAD_REQUEST, text)
}

/// The filters of `GET jobs/`, as LAVA's DRF filter set names them.
fn job_query(
    caller: &Caller,
    query: &HashMap<String, String>,
    paging: &Paging,
) -> Result<JobQuery, Response> {
    let mut q = JobQuery::new(caller.viewer(), paging.limit);
    q.offset = paging.offset;
    let ids = |text: &str| -> Result<Vec<i64>, Response> {
        text.split(',')
            .map(|i| {
                i.trim()
                    .parse()
                    .map_err(|_| bad(format!("'{i}' is not a job id")))
            })
            .collect()
    };
    let states = |text: &str| -> Result<Vec<JobState>, Response> {
        text.split(',')
            .map(|s| {
                JobState::parse(s).ok_or_else(|| {
                    bad(format!(
                        "Select a valid choice. {s} is not one of the available choices."
                    ))
                })
            })
            .collect()
    };
    let healths = |text: &str| -> Result<Vec<JobHealth>, Response> {
        text.split(',')
            .map(|s| {
                JobHealth::parse(s).ok_or_else(|| {
                    bad(format!(
                        "Select a valid choice. {s} is not one of the available choices."
                    ))
                })
            })
            .collect()
    };
    let time = |key: &str, text: &str| -> Result<Timestamp, Response> {
        parse_time(text).ok_or_else(|| bad(format!("{key}: '{text}' is not an ISO 8601 time")))
    };
    for (key, value) in query {
        match key.as_str() {
            "id" | "id__in" => q.ids.extend(ids(value)?),
            "id__gt" => q.id_gt = Some(ids(value)?.first().copied().unwrap_or(0)),
            "state" | "state__in" => q.states.extend(states(value)?),
            "health" | "health__in" => q.healths.extend(healths(value)?),
            "submitter" | "submitter__username" => q.submitter = Some(value.clone()),
            "requested_device_type" => q.device_type = Some(value.clone()),
            "actual_device" => q.device = Some(value.clone()),
            "health_check" => {
                q.health_check = Some(matches!(value.as_str(), "true" | "True" | "1"))
            }
            "submit_time__gt" => q.submit_time_gt = Some(time(key, value)?),
            "start_time__gt" => q.start_time_gt = Some(time(key, value)?),
            "end_time__gt" => q.end_time_gt = Some(time(key, value)?),
            "ordering" => {
                q.order = match value.as_str() {
                    "id" | "submit_time" => JobOrder::IdAscending,
                    "-id" | "-submit_time" => JobOrder::IdDescending,
                    other => {
                        return Err(bad(format!(
                            "ordering by '{other}' is not supported: use id or -id"
                        )))
                    }
                }
            }
            _ => {} // DRF ignores what it does not know
        }
    }
    Ok(q)
}

/// `GET jobs/`.
pub(super) async fn list(
    State(state): State<AppState>,
    Rest(caller): Rest,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let paging = match Paging::from(&query) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let q = match job_query(&caller, &query, &paging) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let found = state
        .blocking(move |s| {
            let page = s.store.query_jobs(&q)?;
            let groups = group_ids(s, &page.jobs)?;
            Ok::<_, StoreError>((page, groups))
        })
        .await;
    match found {
        Ok((found, groups)) => {
            let results = found.jobs.iter().map(|j| job_json(j, &groups)).collect();
            page(
                &headers,
                "/api/v0.2/jobs/",
                &query,
                &paging,
                found.count,
                results,
            )
        }
        Err(e) => store_failed(e),
    }
}

/// The job `id` if the caller may see it, or the answer to give.
async fn visible(state: &AppState, caller: &Caller, id: &str, path: &str) -> Result<Job, Response> {
    // REST names jobs by primary key only, as LAVA's API does.
    let Ok(id) = id.parse::<i64>() else {
        return Err(detail(StatusCode::NOT_FOUND, "Not found."));
    };
    let id = JobNumber::Id(id);
    let caller = caller.clone();
    let path = path.to_string();
    state
        .blocking(move |s| visible_job(&s.store, &caller, &id, &path))
        .await
        .map_err(|r| match r {
            JobRefusal::NotFound => {
                detail(StatusCode::NOT_FOUND, "No TestJob matches the given query.")
            }
            JobRefusal::Store(e) => store_failed(e),
        })
}

/// `GET jobs/ID/`.
async fn detail_view(state: AppState, caller: Caller, id: String) -> Response {
    let job = match visible(&state, &caller, &id, "jobs detail").await {
        Ok(job) => job,
        Err(r) => return r,
    };
    let jobs = vec![job];
    match state
        .blocking(move |s| group_ids(s, &jobs).map(|g| (jobs, g)))
        .await
    {
        Ok((jobs, groups)) => Json(job_json(&jobs[0], &groups)).into_response(),
        Err(e) => store_failed(e),
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    Rest(caller): Rest,
    Path(id): Path<String>,
) -> Response {
    detail_view(state, caller, id).await
}

fn not_authenticated(caller: &Caller, what: &str) -> Option<Response> {
    if caller.user.is_none() {
        caller.refused(what, "no credentials");
        return Some(detail(
            StatusCode::FORBIDDEN,
            "Authentication credentials were not provided.",
        ));
    }
    None
}

fn submitted(result: Result<Submitted, SubmitError>) -> Response {
    match result {
        Ok(submitted) => {
            // LAVA: the id, or the sub_ids of a multinode group
            let job_ids = match &submitted {
                Submitted::Job(id) => json!([id]),
                Submitted::Group { .. } => json!(submitted.display_ids()),
            };
            (
                StatusCode::CREATED,
                Json(json!({ "message": "job(s) successfully submitted", "job_ids": job_ids })),
            )
                .into_response()
        }
        Err(e) => match submit_refusal(e) {
            Ok(message) => {
                (StatusCode::BAD_REQUEST, Json(json!({ "message": message }))).into_response()
            }
            Err(e) => store_failed(e),
        },
    }
}

/// `POST jobs/` with `{"definition": "..."}`.
pub(super) async fn submit(
    State(state): State<AppState>,
    Rest(caller): Rest,
    body: Bytes,
) -> Response {
    if let Some(refusal) = not_authenticated(&caller, "jobs submit") {
        return refusal;
    }
    let definition = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => match map.get("definition") {
            Some(Value::String(d)) => d.clone(),
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "definition": ["This field is required."] })),
                )
                    .into_response()
            }
        },
        _ => return bad("the body must be a JSON object with a 'definition' string".into()),
    };
    let name = caller.name().to_string();
    let result = state.blocking(move |s| s.submit(&definition, &name)).await;
    if let Ok(submitted) = &result {
        log::info!(
            "[REST] job {} submitted by {} from {}",
            submitted.display_ids().join(", "),
            caller.name(),
            caller.address
        );
    }
    submitted(result)
}

/// The job `id` if the caller may change it (cancel, resubmit): a token,
/// and the job is theirs or they are an administrator.
async fn changeable(
    state: &AppState,
    caller: &Caller,
    id: &str,
    what: &str,
) -> Result<Job, Response> {
    if let Some(refusal) = not_authenticated(caller, what) {
        return Err(refusal);
    }
    let job = visible(state, caller, id, what).await?;
    if !may_change(caller, &job) {
        caller.refused(
            what,
            &format!("job {} belongs to {}", job.id, job.submitter),
        );
        return Err(detail(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        ));
    }
    Ok(job)
}

/// `GET|POST jobs/ID/cancel/`.
pub(super) async fn cancel(
    State(state): State<AppState>,
    Rest(caller): Rest,
    Path(id): Path<String>,
) -> Response {
    let job = match changeable(&state, &caller, &id, "jobs cancel").await {
        Ok(job) => job,
        Err(r) => return r,
    };
    let name = caller.name().to_string();
    match state
        .blocking(move |s| s.store.cancel_job(job.id, &name))
        .await
    {
        Ok(_) => {
            log::info!(
                "[REST] job {} canceled by {} from {}",
                job.id,
                caller.name(),
                caller.address
            );
            Json(json!({ "message": "Job cancel signal sent." })).into_response()
        }
        Err(e) => store_failed(e),
    }
}

/// `GET|POST jobs/ID/resubmit/`.
pub(super) async fn resubmit(
    State(state): State<AppState>,
    Rest(caller): Rest,
    Path(id): Path<String>,
) -> Response {
    let job = match changeable(&state, &caller, &id, "jobs resubmit").await {
        Ok(job) => job,
        Err(r) => return r,
    };
    let name = caller.name().to_string();
    let old = job.id;
    let result = state
        .blocking(move |s| s.submit(job.submission(), &name))
        .await;
    if let Ok(submitted) = &result {
        log::info!(
            "[REST] job {old} resubmitted as {} by {} from {}",
            submitted.display_ids().join(", "),
            caller.name(),
            caller.address
        );
    }
    submitted(result)
}

/// `GET jobs/ID/logs/?start=N&end=M`: the lines of `output.yaml`, streamed.
pub(super) async fn logs(
    State(state): State<AppState>,
    Rest(caller): Rest,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let job = match visible(&state, &caller, &id, "jobs logs").await {
        Ok(job) => job,
        Err(r) => return r,
    };
    let line = |key: &str| -> Result<Option<u64>, Response> {
        query
            .get(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| bad(format!("{key} must be a line number, not '{v}'")))
            })
            .transpose()
    };
    let (start, end) = match (line("start"), line("end")) {
        (Ok(s), Ok(e)) => (s.unwrap_or(0), e),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let dir = lava_scheduler::master::output_dir(&state.jobs_dir, &job);
    let slice =
        match tokio::task::spawn_blocking(move || crate::logs::slice(&dir, start, end, u64::MAX))
            .await
        {
            Ok(Ok(Some(slice))) if slice.lines > 0 => slice,
            Ok(Ok(_)) => return detail(StatusCode::NOT_FOUND, "No log (yet) at these lines."),
            Ok(Err(e)) => {
                return store_failed(format!("cannot read the log of job {}: {e}", job.id))
            }
            Err(e) => return store_failed(e),
        };
    let mut file = match tokio::fs::File::open(&slice.path).await {
        Ok(f) => f,
        Err(e) => return store_failed(format!("{}: {e}", slice.path.display())),
    };
    if let Err(e) = file.seek(std::io::SeekFrom::Start(slice.start)).await {
        return store_failed(format!("{}: {e}", slice.path.display()));
    }
    let stream = tokio_util::io::ReaderStream::new(file.take(slice.end - slice.start));
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn cases(
    state: &AppState,
    caller: &Caller,
    id: &str,
    what: &str,
) -> Result<(Job, Vec<TestCase>, Vec<(i64, String)>), Response> {
    let job = visible(state, caller, id, what).await?;
    state
        .blocking(move |s| {
            let cases = s.store.test_cases(job.id)?;
            let suites = s.store.test_suites(job.id)?;
            Ok::<_, StoreError>((job, cases, suites))
        })
        .await
        .map_err(store_failed)
}

fn measurement(text: &Option<String>) -> Value {
    match text.as_deref().map(str::parse::<f64>) {
        Some(Ok(v)) => Value::String(format!("{v:.10}")),
        Some(Err(_)) => Value::String(text.clone().unwrap_or_default()),
        None => Value::Null,
    }
}

fn case_json(base: &str, job: i64, suite_id: i64, case: &TestCase) -> Value {
    json!({
        "id": case.id,
        "result": case.result.label(),
        "resource_uri": format!("{base}/api/v0.2/jobs/{job}/suites/{suite_id}/tests/{}/", case.id),
        "unit": case.units,
        "name": case.name,
        "measurement": measurement(&case.measurement),
        "metadata": case.metadata.clone().unwrap_or_default(),
        "start_log_line": case.start_log_line,
        "end_log_line": case.end_log_line,
        "logged": iso_z(case.logged),
        "suite": suite_id,
        "test_set": Value::Null,
    })
}

/// `GET jobs/ID/tests/`: every test case of the job, a page at a time.
pub(super) async fn tests(
    State(state): State<AppState>,
    Rest(caller): Rest,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Query<HashMap<String, String>>,
) -> Response {
    let (job, cases, suites) = match self::cases(&state, &caller, &id, "jobs tests").await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let base = base_url(&headers);
    let suite_id = |name: &str| {
        suites
            .iter()
            .find(|(_, n)| n == name)
            .map_or(0, |(i, _)| *i)
    };
    let items = cases
        .iter()
        .map(|c| case_json(&base, job.id, suite_id(&c.suite), c))
        .collect();
    super::page_of(
        &headers,
        &format!("/api/v0.2/jobs/{}/tests/", job.id),
        query,
        items,
        "id",
    )
}

/// `GET jobs/ID/suites/`.
pub(super) async fn suites(
    State(state): State<AppState>,
    Rest(caller): Rest,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Query<HashMap<String, String>>,
) -> Response {
    let (job, _, suites) = match self::cases(&state, &caller, &id, "jobs suites").await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let base = base_url(&headers);
    let items = suites
        .iter()
        .map(|(sid, name)| {
            json!({ "id": sid, "job": job.id, "name": name,
                    "resource_uri": format!("{base}/api/v0.2/jobs/{}/suites/{sid}/", job.id) })
        })
        .collect();
    super::page_of(
        &headers,
        &format!("/api/v0.2/jobs/{}/suites/", job.id),
        query,
        items,
        "id",
    )
}

/// `GET jobs/ID/suites/SUITE/tests/` (SUITE: the suite's id or name).
pub(super) async fn suite_tests(
    State(state): State<AppState>,
    Rest(caller): Rest,
    headers: HeaderMap,
    Path((id, suite)): Path<(String, String)>,
    query: Query<HashMap<String, String>>,
) -> Response {
    let (job, cases, suites) = match self::cases(&state, &caller, &id, "jobs suite tests").await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some((suite_id, name)) = suites
        .iter()
        .find(|(i, n)| i.to_string() == suite || *n == suite)
        .cloned()
    else {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    };
    let base = base_url(&headers);
    let items = cases
        .iter()
        .filter(|c| c.suite == name)
        .map(|c| case_json(&base, job.id, suite_id, c))
        .collect();
    super::page_of(
        &headers,
        &format!("/api/v0.2/jobs/{}/suites/{suite_id}/tests/", job.id),
        query,
        items,
        "id",
    )
}

async fn exported(
    state: AppState,
    caller: Caller,
    id: String,
    format: Format,
    content_type: &'static str,
) -> Response {
    match cases(&state, &caller, &id, "jobs results").await {
        Ok((_, cases, _)) => (
            [(header::CONTENT_TYPE, content_type)],
            export(&cases, format),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// `GET jobs/ID/junit/`.
pub(super) async fn junit(
    State(state): State<AppState>,
    Rest(caller): Rest,
    Path(id): Path<String>,
) -> Response {
    exported(state, caller, id, Format::Junit, "application/xml").await
}

/// `GET jobs/ID/csv/`.
pub(super) async fn csv(
    State(state): State<AppState>,
    Rest(caller): Rest,
    Path(id): Path<String>,
) -> Response {
    exported(state, caller, id, Format::Csv, "text/csv; charset=utf-8").await
}

/// `GET jobs/ID/yaml/`.
pub(super) async fn yaml(
    State(state): State<AppState>,
    Rest(caller): Rest,
    Path(id): Path<String>,
) -> Response {
    exported(
        state,
        caller,
        id,
        Format::Yaml,
        "application/yaml; charset=utf-8",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_parse_to_microseconds() {
        assert_eq!(
            parse_time("2026-12-06T20:47:54.725291Z"),
            Some(1_796_590_074_725_291)
        );
        assert_eq!(
            parse_time("2026-12-06T20:47:54+00:00"),
            Some(1_796_590_074_000_000)
        );
        assert_eq!(
            parse_time("2026-12-06T21:47:54+01:00"),
            Some(1_796_590_074_000_000)
        );
        assert_eq!(parse_time("2026-12-06"), Some(1_796_515_200_000_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2026-13-01"), None);
    }
}
