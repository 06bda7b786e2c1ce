//! The XML-RPC methods. Each reads its arguments, checks who may call it,
//! works on the store and returns LAVA's shape (docs/api.md).

use std::collections::BTreeMap;

use dxr::{DateTime, Fault, Value};
use lava_scheduler::accounts::{Accounts, NewUser, UserUpdate};
use lava_scheduler::model::{DeviceHealth, Job, JobHealth, JobState, TestCase, WorkerHealth};
use lava_scheduler::results::{export, Format};
use lava_scheduler::store::{DeviceFilter, DeviceUpdate, JobQuery};
use lava_scheduler::submit::{SubmitError, Submitted};
use lava_scheduler::StoreError;

use super::params::Params;
use crate::auth::Caller;
use crate::server::{AppState, API_VERSION, MAX_PAGE};
use crate::views::{
    hide_invisible_jobs, may_change, stable_id, submit_refusal, visible_job, xmlrpc_time,
    JobRefusal,
};

type Answer = Result<Value, Fault>;

/// Every method served, for `system.listMethods`.
const METHODS: &[&str] = &[
    "system.version",
    "system.api_version",
    "system.whoami",
    "system.listMethods",
    "scheduler.jobs.submit",
    "scheduler.submit_job",
    "scheduler.jobs.show",
    "scheduler.jobs.list",
    "scheduler.jobs.definition",
    "scheduler.jobs.cancel",
    "scheduler.jobs.resubmit",
    "scheduler.jobs.logs",
    "scheduler.jobs.validate",
    "results.get_testjob_results_yaml",
    "results.get_testjob_results_csv",
    "results.get_testsuite_results_yaml",
    "results.get_testsuite_results_csv",
    "results.get_testcase_results_yaml",
    "scheduler.devices.list",
    "scheduler.devices.show",
    "scheduler.devices.update",
    "scheduler.device_types.list",
    "scheduler.device_types.show",
    "scheduler.workers.list",
    "scheduler.workers.show",
    "scheduler.workers.update",
    "scheduler.tags.list",
    "scheduler.tags.add",
    "auth.users.list",
    "auth.users.show",
    "auth.users.add",
    "auth.users.update",
    "auth.users.groups.list",
    "auth.users.groups.add",
    "auth.groups.list",
    "auth.groups.show",
    "auth.groups.add",
];

/// Run one method.
pub(super) fn call(state: &AppState, caller: &Caller, method: &str, values: Vec<Value>) -> Answer {
    let p = Params { method, values };
    let s = state;
    match method {
        "system.version" => Ok(string(API_VERSION)),
        "system.api_version" => Ok(int(2)),
        "system.whoami" => Ok(caller
            .user
            .as_ref()
            .map_or(Value::Nil, |u| string(&u.username))),
        "system.listMethods" => Ok(Value::Array(METHODS.iter().map(|m| string(m)).collect())),
        "scheduler.jobs.submit" | "scheduler.submit_job" => jobs_submit(s, caller, &p),
        "scheduler.jobs.show" => jobs_show(s, caller, &p),
        "scheduler.jobs.list" => jobs_list(s, caller, &p),
        "scheduler.jobs.definition" => {
            let job = job(s, caller, &p, method)?;
            Ok(string(&job.original_definition))
        }
        "scheduler.jobs.cancel" => jobs_cancel(s, caller, &p),
        "scheduler.jobs.resubmit" => jobs_resubmit(s, caller, &p),
        "scheduler.jobs.logs" => jobs_logs(s, caller, &p),
        "scheduler.jobs.validate" => jobs_validate(&p),
        "results.get_testjob_results_yaml" => results(s, caller, &p, 0, Format::Yaml),
        "results.get_testjob_results_csv" => results(s, caller, &p, 0, Format::Csv),
        "results.get_testsuite_results_yaml" => results(s, caller, &p, 1, Format::Yaml),
        "results.get_testsuite_results_csv" => results(s, caller, &p, 1, Format::Csv),
        "results.get_testcase_results_yaml" => results(s, caller, &p, 2, Format::Yaml),
        "scheduler.devices.list" => devices_list(s, caller, &p),
        "scheduler.devices.show" => devices_show(s, caller, &p),
        "scheduler.devices.update" => devices_update(s, caller, &p),
        "scheduler.device_types.list" => device_types_list(s, &p),
        "scheduler.device_types.show" => device_types_show(s, &p),
        "scheduler.workers.list" => {
            let all = p.opt_bool(0, "show_all")?.unwrap_or(false);
            let workers = s.store.workers(all).map_err(store)?;
            Ok(Value::Array(
                workers.iter().map(|w| string(&w.hostname)).collect(),
            ))
        }
        "scheduler.workers.show" => workers_show(s, &p),
        "scheduler.workers.update" => workers_update(s, caller, &p),
        "scheduler.tags.list" => {
            let tags = s.store.tags().map_err(store)?;
            Ok(Value::Array(
                tags.iter()
                    .map(|t| {
                        strukt([
                            ("name", string(&t.name)),
                            ("description", string(&t.description)),
                        ])
                    })
                    .collect(),
            ))
        }
        "scheduler.tags.add" => {
            admin(caller, method)?;
            let name = p.string(0, "name")?;
            let description = p.opt_string(1, "description")?.unwrap_or_default();
            s.store.add_tag(&name, &description).map_err(store)?;
            Ok(Value::Nil)
        }
        m if m.starts_with("auth.") => {
            admin(caller, method)?;
            auth(s, caller, &p)
        }
        _ => Err(Fault::new(
            -32601,
            format!("method \"{method}\" is not supported"),
        )),
    }
}

// ---- values

fn string(text: &str) -> Value {
    Value::String(text.to_string())
}

fn int(n: i64) -> Value {
    i32::try_from(n).map_or(Value::Long(n), Value::Integer)
}

fn opt_int(n: Option<i64>) -> Value {
    n.map_or(Value::Nil, int)
}

fn opt_string(text: Option<&str>) -> Value {
    text.map_or(Value::Nil, string)
}

fn time(micros: Option<i64>) -> Value {
    micros
        .and_then(|t| xmlrpc_time(t).parse::<DateTime>().ok())
        .map_or(Value::Nil, Value::DateTime)
}

fn strukt<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Struct(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

// ---- errors and permissions

fn store(e: StoreError) -> Fault {
    match e {
        StoreError::NotFound { kind, name } => {
            let mut kind = kind.to_string();
            if let Some(first) = kind.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            Fault::new(404, format!("{kind} '{name}' was not found."))
        }
        StoreError::Exists { .. } | StoreError::Duplicate(_) => Fault::new(400, e.to_string()),
        StoreError::InvalidTransition { .. } | StoreError::Refused(_) => {
            Fault::new(400, e.to_string())
        }
        other => {
            log::error!("[RPC] store error: {other}");
            Fault::new(500, format!("the server failed: {other}"))
        }
    }
}

fn authenticated(caller: &Caller, method: &str) -> Result<(), Fault> {
    if caller.user.is_none() {
        caller.refused(method, "no credentials");
        return Err(Fault::new(
            401,
            "Authentication with user and token required for this API.".into(),
        ));
    }
    Ok(())
}

fn admin(caller: &Caller, method: &str) -> Result<(), Fault> {
    authenticated(caller, method)?;
    if !caller.is_superuser() {
        caller.refused(method, "not an administrator");
        return Err(Fault::new(
            403,
            format!("Permission denied for user '{}'.", caller.name()),
        ));
    }
    Ok(())
}

fn job(s: &AppState, caller: &Caller, p: &Params, method: &str) -> Result<Job, Fault> {
    let id = p.job_id(0)?;
    visible_job(&s.store, caller, &id, method).map_err(|r| match r {
        JobRefusal::NotFound => Fault::new(404, format!("Job '{id}' was not found.")),
        JobRefusal::Store(e) => store(e),
    })
}

fn submit_fault(e: SubmitError) -> Fault {
    match submit_refusal(e) {
        Ok(message) => Fault::new(400, message),
        Err(e) => store(e),
    }
}

// ---- jobs

fn jobs_submit(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    authenticated(caller, p.method)?;
    let definition = p.string(0, "definition")?;
    let submitted = s.submit(&definition, caller.name()).map_err(submit_fault)?;
    log::info!(
        "[RPC] job {} submitted by {} from {}",
        submitted.display_ids().join(", "),
        caller.name(),
        caller.address
    );
    Ok(submitted_value(&submitted))
}

/// A submission's answer as LAVA gives it: the job id, or for a multinode
/// group the list of its sub_ids (`["12.0", "12.1"]`).
fn submitted_value(submitted: &Submitted) -> Value {
    match submitted {
        Submitted::Job(id) => int(*id),
        Submitted::Group { .. } => Value::Array(
            submitted
                .display_ids()
                .iter()
                .map(|id| string(id))
                .collect(),
        ),
    }
}

fn jobs_show(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    let job = job(s, caller, p, p.method)?;
    let error_type = job.infrastructure_error.then_some("Infrastructure");
    Ok(strukt([
        // LAVA's display_id: the sub_id of a multinode sub-job
        (
            "id",
            if job.sub_id.is_empty() {
                int(job.id)
            } else {
                string(&job.sub_id)
            },
        ),
        ("description", string(&job.description)),
        ("device", opt_string(job.actual_device.as_deref())),
        (
            "device_type",
            opt_string(job.requested_device_type.as_deref()),
        ),
        ("health_check", Value::Boolean(job.health_check)),
        ("pipeline", Value::Boolean(true)),
        ("health", string(job.health.label())),
        ("state", string(job.state.label())),
        ("submitter", string(&job.submitter)),
        ("submit_time", time(Some(job.submit_time))),
        ("start_time", time(job.start_time)),
        ("end_time", time(job.end_time)),
        (
            "tags",
            Value::Array(job.tags.iter().map(|t| string(t)).collect()),
        ),
        ("visibility", string(job.visibility.label())),
        (
            "failure_comment",
            opt_string(job.failure_comment.as_deref()),
        ),
        (
            "error_msg",
            if error_type.is_some() {
                opt_string(job.failure_comment.as_deref())
            } else {
                Value::Nil
            },
        ),
        ("error_type", opt_string(error_type)),
    ]))
}

fn jobs_list(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    let mut query = JobQuery::new(caller.viewer(), MAX_PAGE);
    if let Some(state) = p.opt_string(0, "state")? {
        let state = JobState::parse(&state).ok_or_else(|| {
            Fault::new(
                400,
                format!("invalid state '{state}': one of {}", JobState::labels()),
            )
        })?;
        query.states = vec![state];
    }
    if let Some(health) = p.opt_string(1, "health")? {
        let health = JobHealth::parse(&health).ok_or_else(|| {
            Fault::new(
                400,
                format!("invalid health '{health}': one of {}", JobHealth::labels()),
            )
        })?;
        query.healths = vec![health];
    }
    query.offset = p.opt_int(2, "start")?.unwrap_or(0).max(0);
    query.limit = p.opt_int(3, "limit")?.unwrap_or(25).clamp(0, MAX_PAGE);
    if let Some(minutes) = p.opt_int(4, "since")?.filter(|m| *m > 0) {
        query.end_time_gt = Some(lava_scheduler::model::now_micros() - minutes * 60_000_000);
    }
    let verbose = p.opt_bool(5, "verbose")?.unwrap_or(false);
    let page = s.store.query_jobs(&query).map_err(store)?;
    Ok(Value::Array(
        page.jobs
            .iter()
            .map(|job| {
                let mut fields: BTreeMap<String, Value> = [
                    ("id", int(job.id)),
                    ("description", string(&job.description)),
                    (
                        "device_type",
                        opt_string(job.requested_device_type.as_deref()),
                    ),
                    ("health", string(job.health.label())),
                    ("state", string(job.state.label())),
                    ("submitter", string(&job.submitter)),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                if verbose {
                    fields.insert(
                        "actual_device".into(),
                        opt_string(job.actual_device.as_deref()),
                    );
                    fields.insert("start_time".into(), time(job.start_time));
                    fields.insert("end_time".into(), time(job.end_time));
                    let error_type = job.infrastructure_error.then_some("Infrastructure");
                    fields.insert("error_type".into(), opt_string(error_type));
                    fields.insert(
                        "error_msg".into(),
                        opt_string(job.failure_comment.as_deref()),
                    );
                }
                Value::Struct(fields)
            })
            .collect(),
    ))
}

/// The job named by the first argument, if the caller may change it
/// (cancel, resubmit): a token, and the job is theirs or they are an
/// administrator.
fn changeable(s: &AppState, caller: &Caller, p: &Params, verb: &str) -> Result<Job, Fault> {
    authenticated(caller, p.method)?;
    let job = job(s, caller, p, p.method)?;
    if !may_change(caller, &job) {
        caller.refused(
            p.method,
            &format!("job {} belongs to {}", job.id, job.submitter),
        );
        return Err(Fault::new(
            403,
            format!(
                "Permission denied for user '{}' to {verb} job {}",
                caller.name(),
                job.id
            ),
        ));
    }
    Ok(job)
}

fn jobs_cancel(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    let job = changeable(s, caller, p, "cancel")?;
    s.store.cancel_job(job.id, caller.name()).map_err(store)?;
    log::info!(
        "[RPC] job {} canceled by {} from {}",
        job.id,
        caller.name(),
        caller.address
    );
    Ok(Value::Boolean(true))
}

fn jobs_resubmit(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    let job = changeable(s, caller, p, "resubmit")?;
    let submitted = s
        .submit(job.submission(), caller.name())
        .map_err(submit_fault)?;
    log::info!(
        "[RPC] job {} resubmitted as {} by {} from {}",
        job.id,
        submitted.display_ids().join(", "),
        caller.name(),
        caller.address
    );
    Ok(submitted_value(&submitted))
}

fn jobs_logs(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    let job = job(s, caller, p, p.method)?;
    let start = p.opt_int(1, "start")?.unwrap_or(0).max(0) as u64;
    let end = p.opt_int(2, "end")?.map(|e| e.max(0) as u64);
    let dir = lava_scheduler::master::output_dir(&s.jobs_dir, &job);
    let finished = job.state == JobState::Finished;
    let slice = crate::logs::slice(&dir, start, end, crate::logs::LOG_BYTES_PER_CALL)
        .map_err(|e| Fault::new(500, format!("cannot read the log of job {}: {e}", job.id)))?;
    let Some(slice) = slice else {
        return Ok(Value::Array(vec![
            Value::Boolean(finished),
            Value::Base64(Vec::new()),
        ]));
    };
    let data = crate::logs::read(&slice)
        .map_err(|e| Fault::new(500, format!("cannot read the log of job {}: {e}", job.id)))?;
    // Finished only when the job is over and this answer reaches the end.
    let whole = slice.first + slice.lines >= slice.total
        || end.is_some_and(|e| slice.first + slice.lines >= e);
    Ok(Value::Array(vec![
        Value::Boolean(finished && whole),
        Value::Base64(data),
    ]))
}

fn jobs_validate(p: &Params) -> Answer {
    let definition = p.string(0, "definition")?;
    let report = lava_proto::job::validate(&definition);
    let errors: BTreeMap<String, Value> = report
        .errors
        .iter()
        .map(|issue| (issue.path.clone(), string(&issue.message)))
        .collect();
    Ok(Value::Struct(errors))
}

fn results(s: &AppState, caller: &Caller, p: &Params, depth: usize, format: Format) -> Answer {
    let job = job(s, caller, p, p.method)?;
    let suite = if depth >= 1 {
        Some(p.string(1, "suite")?)
    } else {
        None
    };
    let case = if depth >= 2 {
        Some(p.string(2, "case")?)
    } else {
        None
    };
    let cases: Vec<TestCase> = s
        .store
        .test_cases(job.id)
        .map_err(store)?
        .into_iter()
        .filter(|c| suite.as_ref().is_none_or(|s| c.suite == *s))
        .filter(|c| case.as_ref().is_none_or(|n| c.name == *n))
        .collect();
    if let (Some(suite), true) = (&suite, cases.is_empty()) {
        return Err(Fault::new(
            404,
            format!(
                "Suite '{suite}' (or its case) was not found in job {}.",
                job.id
            ),
        ));
    }
    Ok(string(&export(&cases, format)))
}

// ---- devices, device types, workers

fn devices_list(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    let all = p.opt_bool(0, "show_all")?.unwrap_or(false);
    let mut devices = s
        .store
        .devices(&DeviceFilter {
            include_retired: all,
            ..Default::default()
        })
        .map_err(store)?;
    hide_invisible_jobs(&s.store, &caller.viewer(), &mut devices).map_err(store)?;
    Ok(Value::Array(
        devices
            .iter()
            .map(|d| {
                strukt([
                    ("hostname", string(&d.hostname)),
                    ("type", string(&d.device_type)),
                    ("health", string(d.health.label())),
                    ("state", string(d.state.label())),
                    ("current_job", opt_int(d.current_job)),
                    ("pipeline", Value::Boolean(true)),
                ])
            })
            .collect(),
    ))
}

fn devices_show(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    let mut found = [s.store.device(&p.string(0, "hostname")?).map_err(store)?];
    hide_invisible_jobs(&s.store, &caller.viewer(), &mut found).map_err(store)?;
    let [d] = found;
    let health_job = s
        .store
        .device_type(&d.device_type)
        .map(|t| t.health_check.is_some() && !t.health_check_disabled)
        .unwrap_or(false);
    Ok(strukt([
        ("hostname", string(&d.hostname)),
        ("device_type", string(&d.device_type)),
        ("health", string(d.health.label())),
        ("state", string(d.state.label())),
        ("health_job", Value::Boolean(health_job)),
        ("description", string(&d.description)),
        ("pipeline", Value::Boolean(true)),
        ("has_device_dict", Value::Boolean(d.dictionary.is_some())),
        ("worker", opt_string(d.worker.as_deref())),
        ("current_job", opt_int(d.current_job)),
        (
            "tags",
            Value::Array(d.tags.iter().map(|t| string(t)).collect()),
        ),
        ("permissions", Value::Array(Vec::new())),
    ]))
}

/// `devices.update(hostname, worker, user, group, public, health, description)`.
fn devices_update(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    admin(caller, p.method)?;
    let hostname = p.string(0, "hostname")?;
    let worker = p.opt_string(1, "worker")?;
    let health = p.opt_string(5, "health")?;
    let description = p.opt_string(6, "description")?;
    s.store.device(&hostname).map_err(store)?;
    if worker.is_some() || description.is_some() {
        s.store
            .update_device(
                &hostname,
                &DeviceUpdate {
                    description,
                    worker,
                },
            )
            .map_err(store)?;
    }
    if let Some(health) = health {
        let health = DeviceHealth::parse(&health).ok_or_else(|| {
            Fault::new(
                400,
                format!(
                    "invalid health '{health}': one of {}",
                    DeviceHealth::labels()
                ),
            )
        })?;
        s.store
            .set_device_health(&hostname, health, caller.name(), "changed through the API")
            .map_err(store)?;
    }
    Ok(Value::Nil)
}

fn template_exists(s: &AppState, name: &str) -> bool {
    s.device_types
        .iter()
        .any(|dir| dir.join(format!("{name}.jinja2")).is_file())
}

fn device_types_list(s: &AppState, p: &Params) -> Answer {
    let all = p.opt_bool(0, "show_all")?.unwrap_or(false);
    let devices = s.store.devices(&DeviceFilter::default()).map_err(store)?;
    let types = s.store.device_types().map_err(store)?;
    Ok(Value::Array(
        types
            .iter()
            .map(|t| {
                (
                    t,
                    devices.iter().filter(|d| d.device_type == t.name).count() as i64,
                )
            })
            .filter(|(_, n)| all || *n > 0)
            .map(|(t, n)| {
                strukt([
                    ("name", string(&t.name)),
                    ("devices", int(n)),
                    ("installed", Value::Boolean(true)),
                    ("template", Value::Boolean(template_exists(s, &t.name))),
                ])
            })
            .collect(),
    ))
}

fn device_types_show(s: &AppState, p: &Params) -> Answer {
    let t = s.store.device_type(&p.string(0, "name")?).map_err(store)?;
    let devices = s
        .store
        .devices(&DeviceFilter {
            device_type: Some(t.name.clone()),
            ..Default::default()
        })
        .map_err(store)?;
    Ok(strukt([
        ("name", string(&t.name)),
        ("description", string(&t.description)),
        ("display", Value::Boolean(true)),
        ("health_disabled", Value::Boolean(t.health_check_disabled)),
        ("health_denominator", string(t.health_denominator.label())),
        ("health_frequency", int(t.health_frequency)),
        (
            "aliases",
            Value::Array(t.aliases.iter().map(|a| string(a)).collect()),
        ),
        (
            "devices",
            Value::Array(devices.iter().map(|d| string(&d.hostname)).collect()),
        ),
        (
            "default_template",
            Value::Boolean(template_exists(s, &t.name)),
        ),
    ]))
}

fn workers_show(s: &AppState, p: &Params) -> Answer {
    let w = s.store.worker(&p.string(0, "hostname")?).map_err(store)?;
    let devices = s
        .store
        .devices(&DeviceFilter {
            worker: Some(w.hostname.clone()),
            include_retired: true,
            ..Default::default()
        })
        .map_err(store)?;
    Ok(strukt([
        ("hostname", string(&w.hostname)),
        ("description", string(&w.description)),
        ("state", string(w.state.label())),
        ("health", string(w.health.label())),
        (
            "devices",
            Value::Array(devices.iter().map(|d| string(&d.hostname)).collect()),
        ),
        ("last_ping", time(w.last_ping)),
        ("job_limit", int(w.job_limit)),
        ("version", Value::Nil),
    ]))
}

/// `workers.update(hostname, description, health)`.
fn workers_update(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    admin(caller, p.method)?;
    let hostname = p.string(0, "hostname")?;
    s.store.worker(&hostname).map_err(store)?;
    if let Some(description) = p.opt_string(1, "description")? {
        s.store
            .set_worker_description(&hostname, &description)
            .map_err(store)?;
    }
    if let Some(health) = p.opt_string(2, "health")? {
        let health = WorkerHealth::parse(&health).ok_or_else(|| {
            Fault::new(
                400,
                format!(
                    "invalid health '{health}': one of {}",
                    WorkerHealth::labels()
                ),
            )
        })?;
        s.store
            .set_worker_health(&hostname, health, caller.name(), "changed through the API")
            .map_err(store)?;
    }
    Ok(Value::Nil)
}

/// The `auth.*` methods (administrators only; checked by the caller).
fn auth(s: &AppState, caller: &Caller, p: &Params) -> Answer {
    let flag = |i: usize, name: &str| p.opt_bool(i, name);
    match p.method {
        "auth.users.list" => {
            let users = s.store.users().map_err(store)?;
            Ok(Value::Array(users.iter().map(user_summary).collect()))
        }
        "auth.users.show" => {
            let user = s.store.user(&p.string(0, "username")?).map_err(store)?;
            let Value::Struct(mut fields) = user_summary(&user) else {
                unreachable!("user_summary gives a struct")
            };
            fields.insert("id".into(), int(stable_id(&user.username)));
            fields.insert("email".into(), string(&user.email));
            fields.insert("date_joined".into(), time(Some(user.date_joined)));
            fields.insert("last_login".into(), Value::Nil);
            fields.insert("groups".into(), strings(&user.groups));
            fields.insert("permissions".into(), Value::Array(Vec::new()));
            Ok(Value::Struct(fields))
        }
        // (username, first_name, last_name, email, is_active, is_staff,
        // is_superuser, ldap): names and LDAP are not kept
        "auth.users.add" => {
            let username = p.string(0, "username")?;
            let mut user = NewUser::new(&username);
            user.email = p.opt_string(3, "email")?.unwrap_or_default();
            user.is_superuser = flag(6, "is_superuser")?.unwrap_or(false);
            s.store.add_user(&user).map_err(store)?;
            if flag(4, "is_active")? == Some(false) {
                let inactive = UserUpdate {
                    is_active: Some(false),
                    ..Default::default()
                };
                s.store.update_user(&username, &inactive).map_err(store)?;
            }
            log::info!(
                "[RPC] user {username} added by {} from {}",
                caller.name(),
                caller.address
            );
            Ok(Value::Nil)
        }
        // (username, first_name, last_name, email, is_active, is_staff,
        // is_superuser)
        "auth.users.update" => {
            let username = p.string(0, "username")?;
            let update = UserUpdate {
                email: p.opt_string(3, "email")?,
                is_active: flag(4, "is_active")?,
                is_superuser: flag(6, "is_superuser")?,
                password_hash: None,
            };
            s.store.update_user(&username, &update).map_err(store)?;
            log::info!(
                "[RPC] user {username} updated by {} from {}",
                caller.name(),
                caller.address
            );
            Ok(Value::Nil)
        }
        "auth.users.groups.list" => {
            let user = s.store.user(&p.string(0, "username")?).map_err(store)?;
            Ok(strings(&user.groups))
        }
        "auth.users.groups.add" => {
            let (username, group) = (p.string(0, "username")?, p.string(1, "group")?);
            s.store
                .add_user_to_group(&username, &group)
                .map_err(store)?;
            Ok(Value::Nil)
        }
        "auth.groups.list" => {
            let groups = s.store.groups().map_err(store)?;
            Ok(Value::Array(
                groups.iter().map(|g| string(&g.name)).collect(),
            ))
        }
        "auth.groups.show" => {
            let name = p.string(0, "name")?;
            let group = s
                .store
                .groups()
                .map_err(store)?
                .into_iter()
                .find(|g| g.name == name)
                .ok_or_else(|| Fault::new(404, format!("Group '{name}' was not found.")))?;
            let users = s.store.users().map_err(store)?;
            let members: Vec<String> = users
                .into_iter()
                .filter(|u| u.groups.contains(&group.name))
                .map(|u| u.username)
                .collect();
            Ok(strukt([
                ("id", int(group.id)),
                ("name", string(&group.name)),
                ("permissions", Value::Array(Vec::new())),
                ("users", strings(&members)),
            ]))
        }
        "auth.groups.add" => {
            let name = p.string(0, "name")?;
            s.store.add_group(&name).map_err(store)?;
            Ok(Value::Nil)
        }
        method => Err(Fault::new(
            -32601,
            format!("method \"{method}\" is not supported"),
        )),
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|i| string(i)).collect())
}

fn user_summary(u: &lava_scheduler::model::User) -> Value {
    strukt([
        ("username", string(&u.username)),
        ("first_name", string("")),
        ("last_name", string("")),
        ("is_superuser", Value::Boolean(u.is_superuser)),
        ("is_staff", Value::Boolean(u.is_superuser)),
        ("is_active", Value::Boolean(u.is_active)),
    ])
}
