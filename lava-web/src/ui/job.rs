//! Job pages: the lists, a job with its pipeline, live log and results,
//! its definition and log as plain text, cancel and resubmit.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use lava_scheduler::model::{Job, JobHealth, JobNumber, JobState, TestCase, TestResultCode};
use lava_scheduler::results::{export, Format};
use lava_scheduler::store::JobQuery;
use serde_json::{json, Value};

use super::{encode, error_page, job_row, render, secure, store_failed, Visitor};
use crate::server::AppState;
use crate::views::{may_change, submit_refusal, visible_job, JobRefusal};

/// Jobs on one page of a list.
const PER_PAGE: i64 = 25;

/// Which list, with what it fixes.
#[derive(Clone, Copy)]
enum List {
    All,
    Active,
    Queue,
    Running,
    Errors,
    Mine,
}

impl List {
    fn title(self) -> &'static str {
        match self {
            List::All => "All jobs",
            List::Active => "Active jobs",
            List::Queue => "Queued jobs",
            List::Running => "Running jobs",
            List::Errors => "Jobs with errors",
            List::Mine => "My jobs",
        }
    }
}

async fn job_list(
    state: AppState,
    visitor: Visitor,
    params: HashMap<String, String>,
    list: List,
) -> Response {
    let mut query = JobQuery::new(visitor.caller.viewer(), PER_PAGE);
    match list {
        List::All => {}
        List::Active => {
            query.states = vec![
                JobState::Submitted,
                JobState::Scheduling,
                JobState::Scheduled,
                JobState::Running,
                JobState::Canceling,
            ]
        }
        List::Queue => query.states = vec![JobState::Submitted],
        List::Running => query.states = vec![JobState::Running, JobState::Canceling],
        List::Errors => query.healths = vec![JobHealth::Incomplete],
        List::Mine => match visitor.require_login() {
            Ok(user) => query.submitter = Some(user.username.clone()),
            Err(login) => return login,
        },
    }
    let param = |name: &str| {
        params
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if let Some(s) = param("state") {
        match JobState::parse(&s) {
            Some(s) => query.states = vec![s],
            None => return error_page(StatusCode::BAD_REQUEST, &format!("no job state '{s}'")),
        }
    }
    if let Some(h) = param("health") {
        match JobHealth::parse(&h) {
            Some(h) => query.healths = vec![h],
            None => return error_page(StatusCode::BAD_REQUEST, &format!("no job health '{h}'")),
        }
    }
    query.device_type = param("device_type");
    if query.submitter.is_none() {
        query.submitter = param("submitter");
    }
    query.device = param("device");
    let page = param("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    query.offset = (page - 1) * PER_PAGE;
    let found = state
        .blocking(move |s| {
            let page = s.store.query_jobs(&query)?;
            let types = s.store.device_types()?;
            Ok::<_, lava_scheduler::StoreError>((page, types))
        })
        .await;
    let (jobs, types) = match found {
        Ok(found) => found,
        Err(e) => return store_failed(e),
    };
    let pages = ((jobs.count + PER_PAGE - 1) / PER_PAGE).max(1);
    // the filters, kept in the pages' links
    let kept: String = ["state", "health", "device_type", "submitter", "device"]
        .iter()
        .filter_map(|k| param(k).map(|v| format!("&{k}={}", encode(&v))))
        .collect();
    let link = |p: i64| format!("?page={p}{kept}");
    render(
        &state,
        &visitor,
        "jobs.html",
        json!({
            "title": list.title(),
            "jobs": jobs.jobs.iter().map(job_row).collect::<Vec<_>>(),
            "count": jobs.count,
            "page": page,
            "pages": pages,
            "previous": (page > 1).then(|| link(page - 1)),
            "next": (page < pages).then(|| link(page + 1)),
            "filter": {
                "state": param("state"),
                "health": param("health"),
                "device_type": param("device_type"),
                "submitter": param("submitter"),
                "device": param("device"),
            },
            "states": JobState::ALL.iter().map(|s| s.label()).collect::<Vec<_>>(),
            "healths": JobHealth::ALL.iter().map(|h| h.label()).collect::<Vec<_>>(),
            "device_types": types.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        }),
    )
}

macro_rules! list_handler {
    ($name:ident, $list:expr) => {
        pub(super) async fn $name(
            State(state): State<AppState>,
            visitor: Visitor,
            Query(params): Query<HashMap<String, String>>,
        ) -> Response {
            job_list(state, visitor, params, $list).await
        }
    };
}

list_handler!(all_jobs, List::All);
list_handler!(active_jobs, List::Active);
list_handler!(queue, List::Queue);
list_handler!(running, List::Running);
list_handler!(errors, List::Errors);
list_handler!(my_jobs, List::Mine);

/// The job `id` if the visitor may see it; "not found" otherwise (the same
/// answer for both, so private jobs are not revealed).
async fn visible(state: &AppState, visitor: &Visitor, id: &str) -> Result<Job, Response> {
    let not_found = || error_page(StatusCode::NOT_FOUND, &format!("There is no job {id}."));
    let Ok(number) = id.parse::<JobNumber>() else {
        return Err(not_found());
    };
    let caller = visitor.caller.clone();
    let path = visitor.path.clone();
    match state
        .blocking(move |s| visible_job(&s.store, &caller, &number, &path))
        .await
    {
        Ok(job) => Ok(job),
        Err(JobRefusal::NotFound) => Err(not_found()),
        Err(JobRefusal::Store(e)) => Err(store_failed(e)),
    }
}

/// The job `id` if the visitor may see it, with its test cases.
async fn with_cases(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
) -> Result<(Job, Vec<TestCase>), Response> {
    let job = visible(state, visitor, id).await?;
    let job_id = job.id;
    match state.blocking(move |s| s.store.test_cases(job_id)).await {
        Ok(cases) => Ok((job, cases)),
        Err(e) => Err(store_failed(e)),
    }
}

fn result_label(result: TestResultCode) -> &'static str {
    result.label()
}

/// A scalar of a result's metadata, as text.
fn scalar(value: Option<&lava_proto::yaml::Value>) -> Option<String> {
    use lava_proto::yaml::Value as Y;
    match value? {
        Y::String(s) | Y::Decimal(s) => Some(s.clone()),
        Y::Int(i) => Some(i.to_string()),
        Y::Float(f) => Some(format!("{f:.2}")),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The pipeline as the `lava` suite records it: one case per action, with
/// its level, duration and result, ordered by level.
fn pipeline(cases: &[TestCase]) -> Vec<Value> {
    let mut actions: Vec<(Vec<u64>, Value)> = cases
        .iter()
        .filter(|c| c.suite == "lava")
        .filter_map(|c| {
            let meta = c
                .metadata
                .as_deref()
                .and_then(|m| lava_proto::yaml::load(m).ok())
                .unwrap_or_default();
            let level = scalar(meta.get("level"))?;
            let key: Vec<u64> = level.split('.').filter_map(|p| p.parse().ok()).collect();
            if key.is_empty() {
                return None;
            }
            let depth = key.len() - 1;
            let duration = scalar(meta.get("duration")).map(|d| match d.parse::<f64>() {
                Ok(secs) => format!("{secs:.2}s"),
                Err(_) => d,
            });
            Some((
                key,
                json!({
                    "level": level,
                    "depth": depth,
                    "name": c.name,
                    "duration": duration,
                    "result": result_label(c.result),
                    "namespace": scalar(meta.get("namespace")),
                }),
            ))
        })
        .collect();
    actions.sort_by(|a, b| a.0.cmp(&b.0));
    actions.into_iter().map(|(_, v)| v).collect()
}

/// The `lava` suite's result of each action, by level, from
/// [`pipeline`]'s rows.
fn lava_results(actions: &[Value]) -> Value {
    let mut results = serde_json::Map::new();
    for action in actions {
        if let (Some(level), Some(result)) = (action["level"].as_str(), action["result"].as_str()) {
            results.insert(level.to_string(), Value::String(result.to_string()));
        }
    }
    Value::Object(results)
}

fn case_row(case: &TestCase) -> Value {
    json!({
        "id": case.id,
        "suite": case.suite,
        "set": case.set,
        "name": case.name,
        "result": result_label(case.result),
        "measurement": case.measurement,
        "units": case.units,
        "start_log_line": case.start_log_line,
    })
}

/// What the job page and its state fragment show.
fn job_context(visitor: &Visitor, job: &Job, cases: &[TestCase]) -> Value {
    let changeable = may_change(&visitor.caller, job);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for case in cases {
        *counts.entry(result_label(case.result)).or_default() += 1;
    }
    let actions = pipeline(cases);
    json!({
        "job": job_row(job),
        "finished": job.state == JobState::Finished,
        "may_cancel": changeable && !matches!(job.state, JobState::Finished | JobState::Canceling),
        "may_resubmit": changeable,
        "cases": cases.iter().filter(|c| c.suite != "lava").map(case_row).collect::<Vec<_>>(),
        "counts": counts,
        // level -> result of the `lava` suite, for the page's action tree
        "lava_results": lava_results(&actions).to_string(),
        "pipeline": actions,
    })
}

/// `GET /scheduler/job/ID`.
pub(super) async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let (job, cases) = match with_cases(&state, &visitor, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let mut context = job_context(&visitor, &job, &cases);
    context["definition"] = Value::String(job.definition.clone());
    if let Some(group) = job.target_group.clone() {
        // a multinode sub-job: the whole group (docs/multinode.md)
        let viewer = visitor.caller.viewer();
        let members = match state.blocking(move |s| s.store.group_jobs(&group)).await {
            Ok(members) => members,
            Err(e) => return store_failed(e),
        };
        let rows: Vec<Value> = members
            .iter()
            .filter(|m| m.visible_to(&viewer))
            .map(|m| {
                let role = lava_scheduler::multinode::member(&m.definition).map(|x| x.role);
                json!({
                    "id": m.id,
                    "sub_id": m.sub_id,
                    "role": role,
                    "state": m.state.label(),
                    "health": m.health.label(),
                    "device": m.actual_device,
                    "essential": m.essential,
                    "this": m.id == job.id,
                })
            })
            .collect();
        context["group"] = json!({
            "target_group": job.target_group,
            "sub_id": job.sub_id,
            "members": rows,
        });
    }
    render(&state, &visitor, "job.html", context)
}

/// `GET /scheduler/job/ID/state`: the summary, actions and results as an
/// HTML fragment, for the job page to refresh when the job ends.
pub(super) async fn state_fragment(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let (job, cases) = match with_cases(&state, &visitor, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    render(
        &state,
        &visitor,
        "job_state.html",
        job_context(&visitor, &job, &cases),
    )
}

/// `GET /scheduler/job/ID/definition`.
pub(super) async fn definition(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    match visible(&state, &visitor, &id).await {
        Ok(job) => render(
            &state,
            &visitor,
            "definition.html",
            json!({ "job": job_row(&job), "definition": job.definition }),
        ),
        Err(r) => r,
    }
}

fn plain(text: String, filename: Option<String>) -> Response {
    let mut response =
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
    if let Some(name) = filename.and_then(|n| {
        axum::http::HeaderValue::from_str(&format!("attachment; filename=\"{n}\"")).ok()
    }) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, name);
    }
    secure(response)
}

/// `GET /scheduler/job/ID/definition/plain`.
pub(super) async fn definition_plain(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    match visible(&state, &visitor, &id).await {
        Ok(job) => plain(job.definition, None),
        Err(r) => r,
    }
}

/// A file of the job's output directory, streamed as plain text to save
/// as `download`; "not found" saying `missing` when it is not there.
async fn job_file(
    state: AppState,
    visitor: Visitor,
    id: String,
    name: &str,
    download: impl FnOnce(i64) -> String,
    missing: &str,
) -> Response {
    let job = match visible(&state, &visitor, &id).await {
        Ok(job) => job,
        Err(r) => return r,
    };
    let path = lava_scheduler::master::output_dir(&state.jobs_dir, &job).join(name);
    match tokio::fs::File::open(&path).await {
        Ok(file) => secure(
            (
                [
                    (
                        header::CONTENT_TYPE,
                        "text/plain; charset=utf-8".to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}\"", download(job.id)),
                    ),
                ],
                Body::from_stream(tokio_util::io::ReaderStream::new(file)),
            )
                .into_response(),
        ),
        Err(_) => error_page(
            StatusCode::NOT_FOUND,
            &format!("Job {} has no {missing} (yet).", job.id),
        ),
    }
}

/// `GET /scheduler/job/ID/description`: the pipeline description the
/// worker sent at the end (`description.yaml`).
pub(super) async fn description(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    job_file(
        state,
        visitor,
        id,
        "description.yaml",
        |job| format!("job_{job}_description.yaml"),
        "pipeline description",
    )
    .await
}

/// `GET /scheduler/job/ID/log_file/plain`: `output.yaml`, streamed.
pub(super) async fn log_plain(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    job_file(
        state,
        visitor,
        id,
        "output.yaml",
        |job| format!("job_{job}.log"),
        "log",
    )
    .await
}

/// `GET /scheduler/job/ID/log/live?line=N`: Server-Sent Events, from line
/// N (or the `Last-Event-ID` of a reconnecting browser) to the job's end.
pub(super) async fn log_live(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let job = match visible(&state, &visitor, &id).await {
        Ok(job) => job,
        Err(r) => return r,
    };
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| params.get("line").and_then(|l| l.parse().ok()))
        .unwrap_or(0);
    let feed = state.live.follow(&state, &job);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(crate::live::stream(feed, from)),
    )
        .into_response()
}

/// The job a form may change (cancel, resubmit): the visitor's own, or
/// any for an administrator.
async fn changeable(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    form: &HashMap<String, String>,
    what: &str,
) -> Result<Job, Response> {
    visitor.check_form(form, what)?;
    visitor.require_login()?;
    let job = visible(state, visitor, id).await?;
    if !may_change(&visitor.caller, &job) {
        visitor.caller.refused(
            what,
            &format!("job {} belongs to {}", job.id, job.submitter),
        );
        return Err(error_page(
            StatusCode::FORBIDDEN,
            &format!("Job {} is not yours to change.", job.id),
        ));
    }
    Ok(job)
}

/// `POST /scheduler/job/ID/cancel`.
pub(super) async fn cancel(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let job = match changeable(&state, &visitor, &id, &form, "web job cancel").await {
        Ok(job) => job,
        Err(r) => return r,
    };
    let actor = visitor.caller.name().to_string();
    match state
        .blocking(move |s| s.store.cancel_job(job.id, &actor))
        .await
    {
        Ok(_) => {
            log::info!(
                "[HTTP] job {} canceled by {} from {}",
                job.id,
                visitor.caller.name(),
                visitor.caller.address
            );
            Redirect::to(&format!("/scheduler/job/{}", job.id)).into_response()
        }
        Err(e) => store_failed(e),
    }
}

/// `POST /scheduler/job/ID/resubmit`.
pub(super) async fn resubmit(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let job = match changeable(&state, &visitor, &id, &form, "web job resubmit").await {
        Ok(job) => job,
        Err(r) => return r,
    };
    let actor = visitor.caller.name().to_string();
    let old = job.id;
    match state
        .blocking(move |s| s.submit(job.submission(), &actor))
        .await
    {
        Ok(new) => {
            let new = new.first();
            log::info!(
                "[HTTP] job {old} resubmitted as {new} by {} from {}",
                visitor.caller.name(),
                visitor.caller.address
            );
            Redirect::to(&format!("/scheduler/job/{new}")).into_response()
        }
        Err(e) => match submit_refusal(e) {
            Ok(message) => error_page(StatusCode::BAD_REQUEST, &message),
            Err(e) => store_failed(e),
        },
    }
}

/// `GET /results/`: the newest finished jobs, with links to their results.
pub(super) async fn all_results(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(mut params): Query<HashMap<String, String>>,
) -> Response {
    params.insert("state".into(), "Finished".into());
    job_list(state, visitor, params, List::All).await
}

/// `GET /results/ID`: suites and cases with measurements.
pub(super) async fn results(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let (job, cases) = match with_cases(&state, &visitor, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let mut suites: Vec<(String, Vec<Value>)> = Vec::new();
    for case in &cases {
        match suites.iter_mut().find(|(name, _)| *name == case.suite) {
            Some((_, rows)) => rows.push(case_row(case)),
            None => suites.push((case.suite.clone(), vec![case_row(case)])),
        }
    }
    let suites: Vec<Value> = suites
        .into_iter()
        .map(|(name, cases)| json!({ "name": name, "cases": cases }))
        .collect();
    render(
        &state,
        &visitor,
        "results.html",
        json!({ "job": job_row(&job), "suites": suites }),
    )
}

async fn exported(state: AppState, visitor: Visitor, id: String, format: Format) -> Response {
    let (job, cases) = match with_cases(&state, &visitor, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let (extension, content_type) = match format {
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
        Format::Junit => ("xml", "application/xml; charset=utf-8"),
        _ => ("yaml", "application/yaml; charset=utf-8"),
    };
    secure(
        (
            [
                (header::CONTENT_TYPE, content_type.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}_results.{extension}\"", job.id),
                ),
            ],
            export(&cases, format),
        )
            .into_response(),
    )
}

/// `GET /results/ID/csv`, `…/yaml`, `…/junit`: a job's results as a file
/// (with the session; the REST endpoints want a token).
pub(super) async fn results_file(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, format)): Path<(String, String)>,
) -> Response {
    let format = match format.as_str() {
        "csv" => Format::Csv,
        "yaml" => Format::Yaml,
        "junit" => Format::Junit,
        _ => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("There are no results as '{format}': csv, yaml or junit."),
            )
        }
    };
    exported(state, visitor, id, format).await
}

/// `GET /scheduler/jobsubmit`: the submission form.
pub(super) async fn submit_form(State(state): State<AppState>, visitor: Visitor) -> Response {
    if let Err(login) = visitor.require_login() {
        return login;
    }
    render(
        &state,
        &visitor,
        "submit.html",
        json!({ "definition": null, "error": null }),
    )
}

/// `POST /scheduler/jobsubmit` with `definition`: the new job's page, or
/// the form again with the reason and the definition kept.
pub(super) async fn submit(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(refusal) = visitor.check_form(&form, "web job submit") {
        return refusal;
    }
    let submitter = match visitor.require_login() {
        Ok(user) => user.username.clone(),
        Err(login) => return login,
    };
    // browsers send CRLF line ends from a textarea
    let definition = form
        .get("definition")
        .cloned()
        .unwrap_or_default()
        .replace("\r\n", "\n");
    let text = definition.clone();
    match state.blocking(move |s| s.submit(&text, &submitter)).await {
        Ok(submitted) => {
            // a multinode group: the page of its first sub-job, which lists
            // the group
            let id = submitted.first();
            log::info!(
                "[HTTP] job {id} submitted by {} from {}",
                visitor.caller.name(),
                visitor.caller.address
            );
            Redirect::to(&format!("/scheduler/job/{id}")).into_response()
        }
        Err(e) => match submit_refusal(e) {
            Ok(message) => super::render_status(
                &state,
                &visitor,
                StatusCode::BAD_REQUEST,
                "submit.html",
                json!({ "definition": definition, "error": message }),
            ),
            Err(e) => store_failed(e),
        },
    }
}
