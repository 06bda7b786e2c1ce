//! Job-end notifications: the `notify` block of a job definition, sent from
//! a thread of its own when the job finishes: HTTP callbacks and e-mail.
//!
//! The queue is in the store (`lava_scheduler::notifications`): a job with
//! a `notify` block gets a row at submission; the notifier wakes on the
//! store's change notifications (and once a second for retries), sends
//! what is due, and records what was delivered, so a restart neither loses
//! nor repeats a delivery. A target that fails is tried again with
//! back-off (1, 2, 4, ... s) up to [`MAX_ATTEMPTS`] times. Nothing here runs
//! in the master: a slow or failing receiver never affects a job.
//! `docs/api.md` ("Notifications") describes the payloads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use lava_proto::job::{
    ContentType, Dataset, HttpMethod, JobDefinition, Notify, NotifyStatus, RecipientMethod,
    Verbosity,
};
use lava_scheduler::accounts::Accounts;
use lava_scheduler::model::{now_micros, Job, JobHealth, JobState, TestCase, TestResultCode};
use lava_scheduler::notifications::{NotificationProgress, Notifications, PendingNotification};
use lava_scheduler::results::{export, Format};
use lava_scheduler::SqlStore;
use serde_json::{json, Value};

use crate::error::WebError;
use crate::views::iso_z;

/// Attempts per notification before it is given up.
pub const MAX_ATTEMPTS: i64 = 6;

/// How long one callback may take.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Where notifications go out.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// The SMTP server (`HOST:PORT`, plain SMTP, as a local relay); none:
    /// e-mail recipients are given up with a logged reason.
    pub smtp: Option<String>,
    /// The sender of e-mail.
    pub from: String,
    /// The lab's URL for links in messages (`http://lava.example.org`).
    pub instance_url: String,
    /// The master's jobs directory (logs for `dataset: logs`).
    pub jobs_dir: PathBuf,
}

impl NotifyConfig {
    /// No SMTP server, links to `instance_url`.
    pub fn new(instance_url: impl Into<String>, jobs_dir: impl Into<PathBuf>) -> NotifyConfig {
        NotifyConfig {
            smtp: None,
            from: "lava@localhost".into(),
            instance_url: instance_url.into(),
            jobs_dir: jobs_dir.into(),
        }
    }
}

/// The running notifier; dropping it stops the thread.
pub struct Notifier {
    stop: Arc<AtomicBool>,
    wake: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Notifier {
    /// Start sending the store's due notifications.
    pub fn spawn(store: SqlStore, config: NotifyConfig) -> Result<Notifier, WebError> {
        let (wake, woken) = mpsc::channel();
        let on_change = wake.clone();
        let watcher = store.database().watch_changes(Box::new(move || {
            let _ = on_change.send(());
        }))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("lava-notify".into())
            .spawn(move || {
                let _watcher = watcher;
                while !stopping.load(Ordering::SeqCst) {
                    send_due(&store, &config);
                    // a change, a retry coming due, or a stop
                    let _ = woken.recv_timeout(Duration::from_secs(1));
                    while woken.try_recv().is_ok() {}
                }
            })
            .map_err(WebError::Serve)?;
        Ok(Notifier {
            stop,
            wake,
            thread: Some(thread),
        })
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn send_due(store: &SqlStore, config: &NotifyConfig) {
    let due = match store.due_notifications(now_micros()) {
        Ok(due) => due,
        Err(e) => {
            log::error!("[NOTIFY] cannot read the queue: {e}");
            return;
        }
    };
    for pending in due {
        let progress = match store.job(pending.job) {
            Ok(job) => attempt(store, config, &job, &pending),
            Err(e) => NotificationProgress {
                sent: pending.sent.clone(),
                done: true,
                next_attempt: 0,
                error: Some(e.to_string()),
            },
        };
        if let Err(e) = store.record_notification(pending.job, &progress) {
            log::error!("[NOTIFY] [{}] cannot record the attempt: {e}", pending.job);
        }
    }
}

/// Whether the criteria's status matches how the job ended.
fn matches(status: NotifyStatus, job: &Job) -> bool {
    match status {
        NotifyStatus::Finished => true,
        NotifyStatus::Complete => job.health == JobHealth::Complete,
        NotifyStatus::Incomplete => job.health == JobHealth::Incomplete,
        NotifyStatus::Canceled => job.health == JobHealth::Canceled,
        // sent when a job starts: not done here (docs/api.md)
        NotifyStatus::Running => false,
    }
}

/// One attempt at a job's notification: every target not yet delivered.
fn attempt(
    store: &SqlStore,
    config: &NotifyConfig,
    job: &Job,
    pending: &PendingNotification,
) -> NotificationProgress {
    let done = |sent: Vec<String>, error: Option<String>| NotificationProgress {
        sent,
        done: true,
        next_attempt: 0,
        error,
    };
    let notify = match JobDefinition::from_yaml(&job.definition) {
        Ok((definition, _)) => match definition.notify {
            Some(notify) => notify,
            None => return done(pending.sent.clone(), None),
        },
        Err(e) => return done(pending.sent.clone(), Some(format!("the definition: {e}"))),
    };
    if !matches(notify.criteria.status, job) {
        log::debug!("[NOTIFY] [{}] criteria not met: nothing to send", job.id);
        return done(pending.sent.clone(), None);
    }
    let mut sent = pending.sent.clone();
    let mut errors = Vec::new();
    let mut data = None;
    for (n, callback) in notify.all_callbacks().enumerate() {
        let key = format!("callback{n}");
        if sent.contains(&key) {
            continue;
        }
        let payload = data.get_or_insert_with(|| payload(store, config, job));
        match send_callback(callback, payload, job) {
            Ok(status) => {
                log::info!(
                    "[NOTIFY] [{}] callback {} answered {status}",
                    job.id,
                    callback.url
                );
                sent.push(key);
            }
            Err(e) => errors.push(format!("callback {}: {e}", callback.url)),
        }
    }
    for (n, recipient) in notify.recipients.iter().enumerate() {
        let key = format!("recipient{n}");
        if sent.contains(&key) {
            continue;
        }
        let to = &recipient.to;
        if to.method == RecipientMethod::Irc {
            log::warn!(
                "[NOTIFY] [{}] IRC notifications are not supported: skipped",
                job.id
            );
            sent.push(key);
            continue;
        }
        let address = match (&to.email, &to.user) {
            (Some(email), _) => Ok(email.clone()),
            (None, Some(user)) => match store.user(user) {
                Ok(u) if !u.email.is_empty() => Ok(u.email),
                Ok(_) => Err(format!("user {user} has no e-mail address")),
                Err(e) => Err(e.to_string()),
            },
            (None, None) => Err("a recipient without email or user".to_string()),
        };
        let result = address.and_then(|address| {
            send_email(config, &notify, store, job, &address).map(|()| address)
        });
        match result {
            Ok(address) => {
                log::info!("[NOTIFY] [{}] e-mail sent to {address}", job.id);
                sent.push(key);
            }
            Err(e) => errors.push(format!("e-mail: {e}")),
        }
    }
    if errors.is_empty() {
        return done(sent, None);
    }
    let error = errors.join("; ");
    let attempts = pending.attempts + 1;
    if attempts >= MAX_ATTEMPTS {
        log::error!(
            "[NOTIFY] [{}] given up after {attempts} attempts: {error}",
            job.id
        );
        return done(sent, Some(error));
    }
    let delay = 1_000_000i64 << (attempts - 1).min(8);
    log::warn!(
        "[NOTIFY] [{}] attempt {attempts} failed, again in {} s: {error}",
        job.id,
        delay / 1_000_000
    );
    NotificationProgress {
        sent,
        done: false,
        next_attempt: now_micros() + delay,
        error: Some(error),
    }
}

/// LAVA's single legacy status number.
fn legacy_status(job: &Job) -> i64 {
    match (job.state, job.health) {
        (JobState::Submitted | JobState::Scheduling | JobState::Scheduled, _) => 0,
        (JobState::Running, _) => 1,
        (JobState::Canceling, _) => 5,
        (JobState::Finished, JobHealth::Complete) => 2,
        (JobState::Finished, JobHealth::Canceled) => 4,
        (JobState::Finished, _) => 3,
    }
}

/// The data of a callback: the job, its results by suite and its log.
struct Payload {
    job: BTreeMap<String, Value>,
    results: BTreeMap<String, Value>,
    log: Option<String>,
}

fn payload(store: &SqlStore, config: &NotifyConfig, job: &Job) -> Payload {
    let mut fields = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        fields.insert(k.to_string(), v);
    };
    put("id", json!(job.id));
    put("status", json!(legacy_status(job)));
    put("state", json!(job.state.code()));
    put("state_string", json!(job.state.label()));
    put("health", json!(job.health.code()));
    put("health_string", json!(job.health.label()));
    put("submit_time", json!(iso_z(job.submit_time)));
    put("start_time", json!(job.start_time.map(iso_z)));
    put("end_time", json!(job.end_time.map(iso_z)));
    put("submitter_username", json!(job.submitter));
    put("failure_comment", json!(job.failure_comment));
    put("priority", json!(job.priority));
    put("description", json!(job.description));
    put("actual_device_id", json!(job.actual_device));
    put("definition", json!(job.definition));
    let cases = store.test_cases(job.id).unwrap_or_default();
    let mut suites: BTreeMap<String, Vec<TestCase>> = BTreeMap::new();
    for case in cases {
        suites.entry(case.suite.clone()).or_default().push(case);
    }
    let results = suites
        .iter()
        .map(|(suite, cases)| (suite.clone(), json!(export(cases, Format::Yaml))))
        .collect();
    let dir = lava_scheduler::master::output_dir(&config.jobs_dir, job);
    let log = std::fs::read_to_string(dir.join("output.yaml")).ok();
    Payload {
        job: fields,
        results,
        log,
    }
}

fn form_encode(fields: &BTreeMap<String, Value>) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            format!("{}={}", encode(k), encode(&text))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn send_callback(
    callback: &lava_proto::job::Callback,
    payload: &Payload,
    job: &Job,
) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(CALLBACK_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let mut body = payload.job.clone();
    if matches!(callback.dataset, Dataset::Results | Dataset::All) {
        body.insert("results".into(), json!(payload.results));
    }
    if matches!(callback.dataset, Dataset::Logs | Dataset::All) {
        body.insert("log".into(), json!(payload.log));
    }
    let response = match callback.method {
        HttpMethod::Get => {
            let mut request = agent.get(&callback.url);
            if let Some(token) = &callback.token {
                request = request.header("Authorization", token);
            }
            request.call()
        }
        HttpMethod::Post => {
            let mut request = agent.post(&callback.url);
            if let Some(token) = &callback.token {
                request = request.header("Authorization", token);
            }
            match callback.content_type {
                ContentType::Json => request
                    .header("Content-Type", "application/json")
                    .send(serde_json::to_string(&body).unwrap_or_default().as_bytes()),
                ContentType::Urlencoded => request
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .send(form_encode(&body).as_bytes()),
            }
        }
    };
    let status = response.map_err(|e| e.to_string())?.status().as_u16();
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(format!("HTTP {status} for job {}", job.id))
    }
}

fn send_email(
    config: &NotifyConfig,
    notify: &Notify,
    store: &SqlStore,
    job: &Job,
    to: &str,
) -> Result<(), String> {
    use lettre::{Message, SmtpTransport, Transport};
    let Some(smtp) = &config.smtp else {
        return Err("no SMTP server is configured (lava-server serve --smtp HOST:PORT)".into());
    };
    let (host, port) = smtp
        .rsplit_once(':')
        .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h, p)))
        .ok_or_else(|| format!("--smtp '{smtp}' is not HOST:PORT"))?;
    let subject = format!("LAVA job {} ({}): {}", job.id, job.description, job.health);
    let mut text = format!(
        "Job {} \"{}\" ended: {}, {}\n",
        job.id, job.description, job.state, job.health
    );
    text.push_str(&format!(
        "{}/scheduler/job/{}\n",
        config.instance_url.trim_end_matches('/'),
        job.id
    ));
    if notify.verbosity != Verbosity::StatusOnly {
        text.push_str(&format!(
            "Submitted by {}; device {}\n",
            job.submitter,
            job.actual_device.as_deref().unwrap_or("none")
        ));
        if let Some(failure) = &job.failure_comment {
            text.push_str(&format!("Failure: {failure}\n"));
        }
        let cases = store.test_cases(job.id).unwrap_or_default();
        let count = |r: TestResultCode| cases.iter().filter(|c| c.result == r).count();
        text.push_str(&format!(
            "Results: {} pass, {} fail, {} skip, {} unknown\n",
            count(TestResultCode::Pass),
            count(TestResultCode::Fail),
            count(TestResultCode::Skip),
            count(TestResultCode::Unknown)
        ));
        if notify.verbosity == Verbosity::Verbose {
            for case in &cases {
                text.push_str(&format!(
                    "  {}.{}: {}\n",
                    case.suite, case.name, case.result
                ));
            }
        }
    }
    let message = Message::builder()
        .from(
            config
                .from
                .parse()
                .map_err(|e| format!("sender {}: {e}", config.from))?,
        )
        .to(to.parse().map_err(|e| format!("address {to}: {e}"))?)
        .subject(subject)
        .body(text)
        .map_err(|e| e.to_string())?;
    SmtpTransport::builder_dangerous(host)
        .port(port)
        .timeout(Some(CALLBACK_TIMEOUT))
        .build()
        .send(&message)
        .map(|_| ())
        .map_err(|e| format!("SMTP {smtp}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_and_legacy_status() {
        let mut fields = BTreeMap::new();
        fields.insert("a b".to_string(), json!("x&y=z é"));
        fields.insert("n".to_string(), json!(3));
        fields.insert("none".to_string(), Value::Null);
        assert_eq!(form_encode(&fields), "a+b=x%26y%3Dz+%C3%A9&n=3&none=");
    }
}
