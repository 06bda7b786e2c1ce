//! The web UI: pages rendered on the server with minijinja, a little plain
//! JavaScript for live logs and local times, sessions with a cookie, CSRF
//! tokens on every form (docs/web.md).
//!
//! Every page is for a [`Visitor`]: the user of the session cookie, or an
//! anonymous one. Job visibility applies as in the APIs: a job the visitor
//! may not see is "not found". Forms are POSTed with the `csrftoken`
//! cookie's value in `csrfmiddlewaretoken` (Django's names, so that habits
//! and scripts carry over); a form without it is refused with 403 and
//! logged.

mod account;
mod job;
mod lab;

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use lava_scheduler::accounts::Accounts;
use lava_scheduler::model::{Job, Timestamp};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::secrets::{new_token, token_digest};
use crate::server::AppState;
use crate::views::iso_z;

/// The session cookie: a random secret; the store keeps its digest.
pub(crate) const SESSION_COOKIE: &str = "lava_session";
/// The CSRF cookie, echoed by every form.
pub(crate) const CSRF_COOKIE: &str = "csrftoken";
/// The form field carrying the CSRF token.
pub(crate) const CSRF_FIELD: &str = "csrfmiddlewaretoken";
/// How long a login lasts.
pub(crate) const SESSION_DAYS: i64 = 14;

/// The templates, compiled into the binary: rendering never reads files.
pub(crate) fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    for (name, source) in [
        ("base.html", include_str!("../../templates/base.html")),
        ("macros.html", include_str!("../../templates/macros.html")),
        (
            "overview.html",
            include_str!("../../templates/overview.html"),
        ),
        ("jobs.html", include_str!("../../templates/jobs.html")),
        ("job.html", include_str!("../../templates/job.html")),
        (
            "job_state.html",
            include_str!("../../templates/job_state.html"),
        ),
        (
            "job_summary.html",
            include_str!("../../templates/job_summary.html"),
        ),
        (
            "job_results.html",
            include_str!("../../templates/job_results.html"),
        ),
        ("submit.html", include_str!("../../templates/submit.html")),
        (
            "definition.html",
            include_str!("../../templates/definition.html"),
        ),
        ("devices.html", include_str!("../../templates/devices.html")),
        ("device.html", include_str!("../../templates/device.html")),
        (
            "device_types.html",
            include_str!("../../templates/device_types.html"),
        ),
        (
            "device_type.html",
            include_str!("../../templates/device_type.html"),
        ),
        ("workers.html", include_str!("../../templates/workers.html")),
        ("worker.html", include_str!("../../templates/worker.html")),
        ("results.html", include_str!("../../templates/results.html")),
        ("login.html", include_str!("../../templates/login.html")),
        ("profile.html", include_str!("../../templates/profile.html")),
        ("error.html", include_str!("../../templates/error.html")),
    ] {
        if let Err(e) = env.add_template(name, source) {
            // a broken template is a build mistake; the unit test catches it
            log::error!("[HTTP] template {name}: {e}");
        }
    }
    env
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(lab::overview))
        .route("/scheduler/", get(lab::overview))
        .route("/scheduler/alljobs", get(job::all_jobs))
        .route("/scheduler/activejobs", get(job::active_jobs))
        .route("/scheduler/queue", get(job::queue))
        .route("/scheduler/running", get(job::running))
        .route("/scheduler/joberrors", get(job::errors))
        .route("/scheduler/myjobs", get(job::my_jobs))
        .route(
            "/scheduler/jobsubmit",
            get(job::submit_form).post(job::submit),
        )
        .route("/scheduler/job/{id}", get(job::show))
        .route("/scheduler/job/{id}/state", get(job::state_fragment))
        .route("/scheduler/job/{id}/definition", get(job::definition))
        .route(
            "/scheduler/job/{id}/definition/plain",
            get(job::definition_plain),
        )
        .route("/scheduler/job/{id}/description", get(job::description))
        .route("/scheduler/job/{id}/log_file/plain", get(job::log_plain))
        .route("/scheduler/job/{id}/log/live", get(job::log_live))
        .route("/scheduler/job/{id}/cancel", post(job::cancel))
        .route("/scheduler/job/{id}/resubmit", post(job::resubmit))
        .route("/scheduler/alldevices", get(lab::devices))
        .route("/scheduler/device/{hostname}", get(lab::device))
        .route(
            "/scheduler/device/{hostname}/health",
            post(lab::device_health),
        )
        .route("/scheduler/device_types", get(lab::device_types))
        .route("/scheduler/device_type/{name}", get(lab::device_type))
        .route("/scheduler/allworkers", get(lab::workers))
        .route("/scheduler/worker/{hostname}", get(lab::worker))
        .route(
            "/scheduler/worker/{hostname}/health",
            post(lab::worker_health),
        )
        .route("/results/", get(job::all_results))
        .route("/results/{id}", get(job::results))
        .route("/results/{id}/{format}", get(job::results_file))
        .route(
            "/accounts/login/",
            get(account::login_form).post(account::login),
        )
        .route("/accounts/logout/", post(account::logout))
        .route("/me/", get(account::profile))
        .route("/me/tokens", post(account::add_token))
        .route("/me/tokens/{id}/revoke", post(account::revoke_token))
        .route("/api/tokens/", get(|| async { Redirect::to("/me/") }))
        .route("/static/lava.css", get(static_css))
        .route("/static/lava.js", get(static_js))
        .route("/static/log.js", get(static_log_js))
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn static_css() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../../static/lava.css"),
    )
}

async fn static_js() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/lava.js"),
    )
}

async fn static_log_js() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/log.js"),
    )
}

/// The cookies of a request.
fn cookies(parts: &Parts) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for value in parts.headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                found
                    .entry(name.trim().to_string())
                    .or_insert_with(|| value.trim().to_string());
            }
        }
    }
    found
}

/// A secret of ours: the shape [`new_token`] makes.
fn well_formed(secret: &str) -> bool {
    secret.len() == crate::secrets::TOKEN_LENGTH
        && secret.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Who is looking at a page.
pub(crate) struct Visitor {
    /// The user of the session, or anonymous.
    pub caller: Caller,
    /// The CSRF token forms must carry.
    pub csrf: String,
    /// The token is new: the cookie is set with the answer, and no form
    /// can have carried it yet.
    new_csrf: bool,
    /// The digest of the session cookie, when it names a session.
    session: Option<String>,
    /// The path asked for (for `next` after login).
    pub path: String,
    /// The request came through an HTTPS proxy (`X-Forwarded-Proto:
    /// https`): cookies are marked `Secure`.
    https: bool,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let address = crate::auth::peer(parts);
        let jar = cookies(parts);
        let session = jar
            .get(SESSION_COOKIE)
            .filter(|s| well_formed(s))
            .map(|s| token_digest(s));
        let user = match session.clone() {
            Some(digest) => match state.blocking(move |s| s.store.session_user(&digest)).await {
                Ok(user) => user,
                Err(e) => {
                    log::error!("[HTTP] store error reading a session: {e}");
                    return Err(error_page(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "The server cannot read its store; try again later.",
                    ));
                }
            },
            None => None,
        };
        let (csrf, new_csrf) = match jar.get(CSRF_COOKIE).filter(|s| well_formed(s)) {
            Some(token) => (token.clone(), false),
            None => match new_token() {
                Ok(token) => (token, true),
                Err(e) => {
                    log::error!("[HTTP] {e}");
                    return Err(error_page(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "The server has no randomness.",
                    ));
                }
            },
        };
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.to_string(), |u| u.0.to_string());
        let https = parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
        Ok(Visitor {
            https,
            session: user.as_ref().and(session),
            caller: Caller { user, address },
            csrf,
            new_csrf,
            path,
        })
    }
}

impl Visitor {
    /// `; Secure` for cookies sent over HTTPS.
    fn secure_attribute(&self) -> &'static str {
        if self.https {
            "; Secure"
        } else {
            ""
        }
    }

    /// What every template knows of the visitor.
    fn context(&self) -> Value {
        json!({
            "me": self.caller.user.as_ref().map(|u| json!({
                "username": u.username,
                "is_superuser": u.is_superuser,
            })),
            "csrf": self.csrf,
            "csrf_field": CSRF_FIELD,
            "path": self.path,
            "path_encoded": encode(&self.path),
        })
    }

    /// Check a POSTed form's CSRF token; the refusal to answer otherwise.
    pub fn check_form(&self, form: &HashMap<String, String>, what: &str) -> Result<(), Response> {
        let sent = form.get(CSRF_FIELD).map(String::as_str).unwrap_or("");
        let same = !self.new_csrf
            && sent.len() == self.csrf.len()
            && sent
                .bytes()
                .zip(self.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            return Ok(());
        }
        self.caller
            .refused(what, "the form's CSRF token is missing or wrong");
        Err(error_page(
            StatusCode::FORBIDDEN,
            "This form's CSRF token is missing or wrong: reload the page and send it again.",
        ))
    }

    /// The visitor must be logged in: the login page otherwise.
    pub fn require_login(&self) -> Result<&lava_scheduler::model::User, Response> {
        match &self.caller.user {
            Some(user) => Ok(user),
            None => Err(
                Redirect::to(&format!("/accounts/login/?next={}", encode(&self.path)))
                    .into_response(),
            ),
        }
    }
}

/// Percent-encode a query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Headers every page carries: no inline scripts, no framing.
pub(crate) fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page: `template` with `context` and the visitor's.
pub(crate) fn render(
    state: &AppState,
    visitor: &Visitor,
    template: &str,
    context: Value,
) -> Response {
    render_status(state, visitor, StatusCode::OK, template, context)
}

/// A page with a status other than 200.
pub(crate) fn render_status(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    template: &str,
    context: Value,
) -> Response {
    let mut all = visitor.context();
    if let (Some(all), Value::Object(page)) = (all.as_object_mut(), context) {
        all.extend(page);
    }
    let html = match state
        .templates
        .get_template(template)
        .and_then(|t| t.render(minijinja::value::Serde(&all)))
    {
        Ok(html) => html,
        Err(e) => {
            log::error!("[HTTP] cannot render {template}: {e:#}");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "A page failed to render.",
            );
        }
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    if visitor.new_csrf {
        if let Ok(cookie) = HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{}",
            visitor.csrf,
            visitor.secure_attribute()
        )) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    secure(response)
}

/// A plain error page (no template state needed: it cannot fail).
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let reason = status.canonical_reason().unwrap_or("Error");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{code} {reason}</title><link rel=\"stylesheet\" href=\"/static/lava.css\"></head>\n<body><main><h1>{code} {reason}</h1><p>{escaped}</p><p><a href=\"/\">Back to the overview</a></p></main></body></html>\n",
        code = status.as_u16(),
    );
    secure(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
    )
}

/// The store failed: 500, logged.
pub(crate) fn store_failed(e: impl std::fmt::Display) -> Response {
    log::error!("[HTTP] store error: {e}");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server cannot read its store; try again later.",
    )
}

/// An optional time for templates: ISO 8601 in UTC (localised by the
/// browser), or null.
pub(crate) fn time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(iso_z(t)))
}

/// `1h 02m 03s`, `4m 05s`, `6s`.
pub(crate) fn duration(micros: i64) -> String {
    let s = micros.max(0) / 1_000_000;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, s) => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// A job as lists and pages show it.
pub(crate) fn job_row(job: &Job) -> Value {
    let took = match (job.start_time, job.end_time) {
        (Some(start), Some(end)) => Some(duration(end - start)),
        _ => None,
    };
    json!({
        "id": job.id,
        "description": job.description,
        "submitter": job.submitter,
        "device_type": job.requested_device_type,
        "device": job.actual_device,
        "state": job.state.label(),
        "health": job.health.label(),
        "priority": job.priority,
        "health_check": job.health_check,
        "submit_time": time(Some(job.submit_time)),
        "start_time": time(job.start_time),
        "end_time": time(job.end_time),
        "duration": took,
        "failure_comment": job.failure_comment,
        "visibility": format!("{:?}", job.visibility).to_lowercase(),
        "tags": job.tags,
    })
}

/// A session cookie that ends now (logout) or the new one (login).
pub(crate) fn session_cookie(visitor: &Visitor, value: Option<&str>) -> HeaderValue {
    let secure = visitor.secure_attribute();
    let text = match value {
        Some(secret) => format!(
            "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            SESSION_DAYS * 86_400
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page renders with a context of the shape its handler makes.
    #[test]
    fn every_page_renders() {
        let env = templates();
        let job = json!({
            "id": 7, "description": "smoke <b>", "submitter": "alice", "device_type": "qemu",
            "device": "qemu-01", "state": "Finished", "health": "Complete", "priority": 50,
            "health_check": false, "submit_time": "2026-12-07T10:00:00Z", "start_time": null,
            "end_time": "2026-12-07T10:01:00Z", "duration": "1m 00s", "failure_comment": null,
            "visibility": "public", "tags": ["x"],
        });
        let device = json!({
            "hostname": "qemu-01", "device_type": "qemu", "worker": "w1", "description": "",
            "state": "Idle", "health": "Good", "tags": [], "current_job": 7,
        });
        let worker = json!({
            "hostname": "w1", "description": "", "state": "Online", "health": "Active",
            "last_ping": null, "job_limit": 0,
        });
        let transition = json!({"at": "2026-12-07T10:00:00Z", "old": "Good", "new": "Bad", "actor": "admin", "reason": "r"});
        let case = json!({"id": 1, "suite": "0_smoke", "set": null, "name": "uptime", "result": "pass",
            "measurement": "1.5", "units": "seconds", "start_log_line": 12});
        let device_type = json!({"name": "qemu", "description": "", "aliases": [], "devices": 1, "idle": 1,
            "busy": 0, "health_frequency": 24, "health_denominator": "hours", "health_check_disabled": false});
        let base = json!({
            "me": {"username": "alice", "is_superuser": true}, "csrf": "c", "csrf_field": "f", "path": "/x?y",
            "path_encoded": "/x%3Fy",
        });
        let job_page = json!({"job": job, "finished": true, "may_cancel": true, "may_resubmit": true,
                "cases": [case], "counts": {"pass": 1},
                "pipeline": [{"level": "1.1", "depth": 1, "name": "deploy", "duration": "1.00s",
                "result": "pass", "namespace": "common"}], "lava_results": "{\"1.1\": \"pass\"}", "definition": "job_name: x\n"});
        let pages = [
            (
                "overview.html",
                json!({"devices": [device], "by_state": {"Idle": 1}, "by_health": {"Good": 1},
                "workers": [worker], "online": 1, "offline": 0, "queued": 2, "running": [job], "running_count": 1}),
            ),
            (
                "jobs.html",
                json!({"title": "All jobs", "jobs": [job], "count": 1, "page": 1, "pages": 2,
                "previous": null, "next": "?page=2", "filter": {"state": "Finished", "health": null,
                "device_type": null, "submitter": null, "device": null}, "states": ["Finished"],
                "healths": ["Complete"], "device_types": ["qemu"]}),
            ),
            ("job.html", job_page.clone()),
            // the fragment the page reloads when the job ends
            ("job_state.html", job_page),
            ("definition.html", json!({"job": job, "definition": "x"})),
            (
                "submit.html",
                json!({"definition": "job_name: <x>", "error": "bad"}),
            ),
            ("devices.html", json!({"devices": [device]})),
            (
                "device.html",
                json!({"device": device, "jobs": [job], "transitions": [transition], "healths": ["Good"]}),
            ),
            ("device_types.html", json!({"device_types": [device_type]})),
            (
                "device_type.html",
                json!({"device_type": device_type, "devices": [device], "jobs": [job]}),
            ),
            ("workers.html", json!({"workers": [worker]})),
            (
                "worker.html",
                json!({"worker": worker, "devices": [device], "jobs": [job],
                "transitions": [transition], "healths": ["Active"]}),
            ),
            (
                "results.html",
                json!({"job": job, "suites": [{"name": "0_smoke", "cases": [case]}]}),
            ),
            (
                "login.html",
                json!({"next": "/", "error": "Wrong username or password.", "username": "a"}),
            ),
            (
                "profile.html",
                json!({"user": {"username": "alice", "email": "", "is_superuser": false,
                "groups": ["g"], "date_joined": "2026-12-07T10:00:00Z"}, "tokens": [{"id": 1,
                "description": "ci", "created": "2026-12-07T10:00:00Z", "last_used": null}],
                "new_token": {"secret": "s", "description": "d"}}),
            ),
        ];
        for (name, page) in pages {
            for me in [base["me"].clone(), Value::Null] {
                let mut all = base.clone();
                all["me"] = me;
                all.as_object_mut()
                    .unwrap()
                    .extend(page.as_object().unwrap().clone());
                let html = env
                    .get_template(name)
                    .unwrap()
                    .render(minijinja::value::Serde(&all))
                    .unwrap_or_else(|e| panic!("{name}: {e:#}"));
                assert!(!html.contains("<b>"), "{name}: not escaped");
            }
        }
    }

    #[test]
    fn durations_read_like_lavas() {
        assert_eq!(duration(6_400_000), "6s");
        assert_eq!(duration(245_000_000), "4m 05s");
        assert_eq!(duration(3_723_000_000), "1h 02m 03s");
    }

    #[test]
    fn next_paths_are_encoded() {
        assert_eq!(
            encode("/scheduler/job/3?x=1&y"),
            "/scheduler/job/3%3Fx%3D1%26y"
        );
    }
}
