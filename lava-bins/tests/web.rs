//! The web UI in a real browser: headless Chromium (Debian's `chromium`)
//! driven over the DevTools protocol, against `lava-server serve` with the
//! real master, slave, lava-run and a QEMU guest.
//!
//! - `web_ui_in_chromium`: log in through the form, watch a running job's
//!   log grow without a reload, see the final state and the results table
//!   arrive when it ends; cancel a queued job from its page; an anonymous
//!   viewer gets "not found" for a private job; a form without its CSRF
//!   token is refused; tokens made and revoked on the profile page; an
//!   administrator sets a device's health. Screenshots of the main pages
//!   go to `target/screenshots/`.
//! - `long_log_in_chromium`: a job page with a 200,000-line log; the
//!   browser's own timings are printed (see the README), the test asserts
//!   that every line arrives and that only a window of rows is in the page.
//! - `live_log_resumes`: the event stream without a browser: `Last-Event-ID`
//!   resumes at the next line, the stream ends with the job's state.
//!
//! Without Chromium the browser tests say they skip, unless
//! `LAVA_REQUIRE_BROWSER` is set (CI sets it). `LAVA_CHROMIUM` names the
//! browser binary.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use headless_chrome::protocol::cdp::Emulation;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use lava_scheduler::model::{JobHealth, JobState};
use lava_scheduler::store::NewJob;

fn manage(lab: &Lab, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(bin("lava-server"))
        .args(["manage", "--database", &lab.url])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "manage {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A user with a password and a token (returned).
fn user(lab: &Lab, name: &str, password: &str, superuser: bool) -> String {
    let mut add = vec!["users", "add", name, "--password-stdin"];
    if superuser {
        add.push("--superuser");
    }
    manage(lab, &add, Some(&format!("{password}\n")));
    manage(
        lab,
        &["tokens", "add", "--user", name, "--description", "tests"],
        None,
    )
    .trim()
    .to_string()
}

/// `lava-server serve` for `lab`; its base URL.
fn serve(lab: &Lab) -> (String, Daemon) {
    let port = free_port();
    let log = std::fs::File::create(lab.path("serve.log")).unwrap();
    let child = Command::new(bin("lava-server"))
        .args([
            "serve",
            "--database",
            &lab.url,
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--level",
            "debug",
        ])
        .arg("--jobs-dir")
        .arg(lab.path("jobs"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    wait_for("the HTTP service to listen", DEADLINE, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (format!("http://127.0.0.1:{port}"), daemon)
}

fn chromium_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LAVA_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"]
                .into_iter()
                .map(move |name| dir.join(name))
        })
        .find(|candidate| candidate.exists())
}

/// Headless Chromium, or `None` (the test says it skips).
fn browser() -> Option<Browser> {
    let Some(path) = chromium_path() else {
        assert!(
            std::env::var_os("LAVA_REQUIRE_BROWSER").is_none(),
            "LAVA_REQUIRE_BROWSER is set but there is no chromium on PATH (or LAVA_CHROMIUM)"
        );
        eprintln!("skipping: no chromium on PATH (apt-get install chromium)");
        return None;
    };
    let options = LaunchOptions::default_builder()
        .path(Some(path))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1280, 1400)))
        .idle_browser_timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    Some(Browser::new(options).expect("chromium starts"))
}

/// Evaluate `expression` in the page; its JSON value.
fn eval(tab: &Tab, expression: &str) -> serde_json::Value {
    tab.evaluate(expression, true)
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
        .value
        .unwrap_or(serde_json::Value::Null)
}

/// Wait until `condition` (JavaScript) is true in the page; on timeout,
/// say what the page shows.
fn wait_js(tab: &Tab, what: &str, timeout: Duration, condition: &str) {
    let deadline = Instant::now() + timeout;
    // a page being replaced answers with an error: not yet
    let holds = || {
        tab.evaluate(&format!("Boolean({condition})"), true)
            .ok()
            .and_then(|r| r.value)
            == Some(serde_json::Value::Bool(true))
    };
    while !holds() {
        if Instant::now() > deadline {
            let seen = eval(
                tab,
                "JSON.stringify({url: location.href, lines: window.lavaLog ? window.lavaLog.lines() : null, \
                 ended: window.lavaLog ? window.lavaLog.ended() : null, \
                 main: (document.querySelector('main') || document.body).innerText.slice(0, 2000)})",
            );
            panic!("timed out waiting for {what}; the page: {seen}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text_of(tab: &Tab, selector: &str) -> String {
    eval(
        tab,
        &format!("(document.querySelector({selector:?}) || {{innerText: ''}}).innerText"),
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

fn open(tab: &Tab, url: &str) {
    tab.navigate_to(url).unwrap();
    tab.wait_until_navigated().unwrap();
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn screenshot(tab: &Tab, name: &str) {
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    let path = screenshots().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

fn login(tab: &Tab, base: &str, name: &str, password: &str) {
    open(tab, &format!("{base}/accounts/login/?next=/"));
    tab.wait_for_element("#username").unwrap().click().unwrap();
    tab.type_str(name).unwrap();
    tab.wait_for_element("#password").unwrap().click().unwrap();
    tab.type_str(password).unwrap();
    tab.wait_for_element("#login-submit")
        .unwrap()
        .click()
        .unwrap();
    tab.wait_until_navigated().unwrap();
    wait_js(
        tab,
        "the user's name in the header",
        DEADLINE,
        &format!("document.querySelector('#whoami') && document.querySelector('#whoami').innerText.startsWith({name:?})"),
    );
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Submit through REST with a token; the job id.
fn submit(base: &str, token: &str, definition: &str) -> i64 {
    let mut answer = agent()
        .post(&format!("{base}/api/v0.2/jobs/"))
        .header("Authorization", &format!("Token {token}"))
        .header("Content-Type", "application/json")
        .send(
            serde_json::json!({ "definition": definition })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    let body: serde_json::Value =
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    body["job_ids"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("{body}"))
}

#[test]
fn web_ui_in_chromium() {
    let Some((mut lab, images)) = qemu_lab(false) else {
        return;
    };
    let Some(browser) = browser() else { return };
    lab.start_master();
    lab.start_slave();
    user(&lab, "admin", "admin-secret", true);
    let alice_token = user(&lab, "alice", "alice-secret", false);
    let bob_token = user(&lab, "bob", "bob-secret", false);
    let (base, _serve) = serve(&lab);
    let sample = lava_bins::lab::sample_job(&images);

    // anonymous: the overview, and bob's private job is not there
    let private = submit(
        &base,
        &bob_token,
        &sample.replace("visibility: public", "visibility: personal"),
    );
    let anonymous = browser.new_context().unwrap().new_tab().unwrap();
    anonymous.set_default_timeout(DEADLINE);
    open(&anonymous, &format!("{base}/scheduler/job/{private}"));
    let body = text_of(&anonymous, "main");
    assert!(
        body.contains(&format!("There is no job {private}")),
        "{body}"
    );
    assert!(!body.contains("lava-lab sample job"), "{body}");
    open(&anonymous, &format!("{base}/scheduler/alljobs"));
    assert_eq!(
        eval(
            &anonymous,
            &format!("document.querySelector('a[href=\"/scheduler/job/{private}\"]') === null")
        ),
        true,
        "a private job is listed for anonymous viewers"
    );

    // alice logs in through the form
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(DEADLINE);
    login(&tab, &base, "alice", "alice-secret");

    // bob's job runs first (the only device); alice's waits behind it and
    // is canceled from its page
    let running = submit(&base, &alice_token, &sample);
    // the second through the submission form: a bad definition comes
    // back with the reason, a good one opens the new job's page
    open(&tab, &format!("{base}/scheduler/jobsubmit"));
    eval(
        &tab,
        "document.querySelector('#definition').value = 'job_name: [unclosed'; document.querySelector('#submit-form').submit()",
    );
    wait_js(
        &tab,
        "the refusal on the form",
        DEADLINE,
        "document.querySelector('#submit-form .error') !== null",
    );
    assert!(text_of(&tab, "#submit-form .error").contains("Problem with submitted job data"));
    eval(
        &tab,
        &format!(
            "document.querySelector('#definition').value = {}; document.querySelector('#submit-form').submit()",
            serde_json::Value::String(sample.clone())
        ),
    );
    wait_js(
        &tab,
        "the new job's page",
        DEADLINE,
        "/\\/scheduler\\/job\\/\\d+$/.test(location.pathname)",
    );
    let queued: i64 = eval(&tab, "location.pathname.split('/').pop()")
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(lab.store.job(queued).unwrap().submitter, "alice");
    lab.wait_state(private, JobState::Finished);

    // the running job's page: lines arrive without a reload
    open(&tab, &format!("{base}/scheduler/job/{running}"));
    eval(&tab, "window.__sameDocument = 'yes'");
    wait_js(
        &tab,
        "the first log lines",
        Duration::from_secs(120),
        "window.lavaLog && window.lavaLog.lines() > 0",
    );
    let first = eval(&tab, "window.lavaLog.lines()").as_u64().unwrap();
    wait_js(
        &tab,
        "more log lines, pushed",
        Duration::from_secs(120),
        &format!("window.lavaLog.lines() > {first}"),
    );
    assert_eq!(
        eval(&tab, "window.__sameDocument"),
        "yes",
        "the page reloaded"
    );
    assert!(
        eval(&tab, "document.querySelectorAll('#log .log-row').length")
            .as_u64()
            .unwrap()
            > 0
    );
    screenshot(&tab, "job-running");

    // a form without the CSRF token is refused (with alice's session)
    let refused = eval(
        &tab,
        &format!(
            "fetch('/scheduler/job/{queued}/cancel', {{method: 'POST', body: new URLSearchParams({{}})}}).then(r => r.status)"
        ),
    );
    assert_eq!(refused, 403);
    assert_eq!(lab.store.job(queued).unwrap().state, JobState::Submitted);

    // the end: final state and the results table, still without a reload
    wait_js(
        &tab,
        "the job's end on its page",
        Duration::from_secs(300),
        "document.querySelector('#log').dataset.ended === 'true'",
    );
    assert_eq!(
        eval(&tab, "window.__sameDocument"),
        "yes",
        "the page reloaded"
    );
    let finished = lab.store.job(running).unwrap();
    assert_eq!(finished.health, JobHealth::Complete, "{}", lab.logs_of());
    assert!(text_of(&tab, "#state").contains("Finished"));
    assert!(text_of(&tab, "#health").contains("Complete"));
    let results = text_of(&tab, "#results");
    for case in ["kernel-version", "overlay-mounted", "uptime"] {
        assert!(results.contains(case), "{case} missing from {results}");
    }
    assert!(results.contains("pass"), "{results}");
    let pipeline = text_of(&tab, "#pipeline");
    assert!(
        pipeline.contains("finalize") && pipeline.contains("pass"),
        "{pipeline}"
    );
    let stored = log_lines(&lab.job_dir(running));
    let shown = eval(&tab, "window.lavaLog.lines()").as_u64().unwrap();
    if shown != stored.len() as u64 {
        let texts: Vec<String> = (0..shown)
            .map(|i| {
                eval(&tab, &format!("window.lavaLog.text({i})"))
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let twice: Vec<(usize, &String)> = texts
            .iter()
            .enumerate()
            .filter(|(_, t)| !seen.insert(*t))
            .collect();
        panic!(
            "{shown} lines shown, {} stored; repeated: {twice:#?}",
            stored.len()
        );
    }
    screenshot(&tab, "job");

    // cancel the queued job from its page
    open(&tab, &format!("{base}/scheduler/job/{queued}"));
    tab.wait_for_element("#cancel").unwrap().click().unwrap();
    lab.wait_state(queued, JobState::Finished);
    assert_eq!(lab.store.job(queued).unwrap().health, JobHealth::Canceled);
    open(&tab, &format!("{base}/scheduler/job/{queued}"));
    assert!(text_of(&tab, "#health").contains("Canceled"));

    // alice cannot see bob's job either; bob's cancel button is not hers
    open(&tab, &format!("{base}/scheduler/job/{private}"));
    assert!(text_of(&tab, "main").contains(&format!("There is no job {private}")));

    // the other pages
    open(&tab, &format!("{base}/"));
    assert!(text_of(&tab, "main").contains("qemu-01"));
    screenshot(&tab, "overview");
    open(&tab, &format!("{base}/scheduler/alljobs?state=Finished"));
    assert_eq!(
        eval(
            &tab,
            &format!("document.querySelector('table.jobs a[href=\"/scheduler/job/{running}\"]') !== null")
        ),
        true
    );
    assert!(text_of(&tab, "table.jobs").contains("Complete"));
    screenshot(&tab, "jobs");
    open(&tab, &format!("{base}/results/{running}"));
    assert!(text_of(&tab, "main").contains("uptime"));
    // the downloads with the session: the log as stored, the pipeline
    // description, JUnit of the job
    let log_file = eval(
        &tab,
        &format!("fetch('/scheduler/job/{running}/log_file/plain').then(r => r.text())"),
    );
    assert_eq!(
        log_file.as_str().unwrap_or(""),
        std::fs::read_to_string(lab.job_dir(running).join("output.yaml")).unwrap()
    );
    let description = eval(
        &tab,
        &format!("fetch('/scheduler/job/{running}/description').then(r => r.text())"),
    );
    assert!(
        description.as_str().unwrap_or("").contains("pipeline"),
        "{description}"
    );
    let junit = eval(
        &tab,
        &format!("fetch('/results/{running}/junit').then(r => r.text())"),
    );
    assert!(
        junit.as_str().unwrap_or("").contains("<testsuite"),
        "{junit}"
    );
    screenshot(&tab, "results");
    open(&tab, &format!("{base}/scheduler/worker/worker1"));
    assert!(text_of(&tab, "main").contains("qemu-01"));

    // tokens: made on the profile page, usable, revoked
    open(&tab, &format!("{base}/me/"));
    tab.wait_for_element("#description")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str("from the browser").unwrap();
    tab.wait_for_element("#token-create")
        .unwrap()
        .click()
        .unwrap();
    wait_js(
        &tab,
        "the new token on the profile page",
        DEADLINE,
        "document.querySelector('#new-token code.secret') !== null",
    );
    let secret = text_of(&tab, "#new-token code.secret");
    assert_eq!(secret.len(), 48, "{secret:?}");
    screenshot(&tab, "profile");
    let use_token = |token: &str| {
        agent()
            .get(&format!("{base}/api/v0.2/jobs/{running}/"))
            .header("Authorization", &format!("Token {token}"))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(use_token(&secret), 200);
    open(&tab, &format!("{base}/me/"));
    let rows = eval(&tab, "document.querySelectorAll('#tokens tbody tr').length");
    assert_eq!(rows, 2, "the tests token and the new one");
    eval(
        &tab,
        "[...document.querySelectorAll('#tokens tbody tr')].find(r => r.innerText.includes('from the browser')).querySelector('button').click()",
    );
    tab.wait_until_navigated().unwrap();
    wait_js(
        &tab,
        "the token to be gone",
        DEADLINE,
        "document.querySelectorAll('#tokens tbody tr').length === 1",
    );
    assert_eq!(use_token(&secret), 403);
    assert_eq!(use_token(&alice_token), 200);

    // alice is not an administrator: no health form; log out
    open(&tab, &format!("{base}/scheduler/device/qemu-01"));
    assert_eq!(
        eval(&tab, "document.querySelector('.health-form') === null"),
        true
    );
    tab.wait_for_element("header form button")
        .unwrap()
        .click()
        .unwrap();
    tab.wait_until_navigated().unwrap();
    wait_js(
        &tab,
        "the login link",
        DEADLINE,
        "document.querySelector('#login-link') !== null",
    );

    // the administrator puts the device into maintenance from its page
    login(&tab, &base, "admin", "admin-secret");
    open(&tab, &format!("{base}/scheduler/device/qemu-01"));
    eval(
        &tab,
        "document.querySelector('#health').value = 'Maintenance'; document.querySelector('#reason').value = 'cable swap'; document.querySelector('.health-form').submit()",
    );
    tab.wait_until_navigated().unwrap();
    wait_js(
        &tab,
        "the new health on the device page",
        DEADLINE,
        "document.querySelector('#device-health') && document.querySelector('#device-health').innerText.includes('Maintenance')",
    );
    let history = text_of(&tab, "main");
    assert!(
        history.contains("cable swap") && history.contains("admin"),
        "{history}"
    );
    assert_eq!(
        lab.store.device("qemu-01").unwrap().health.label(),
        "Maintenance"
    );
    screenshot(&tab, "device");

    // a phone: the job page fits its width (tables scroll inside), and the
    // keyboard reaches the skip link first
    let phone = browser.new_tab().unwrap();
    phone.set_default_timeout(DEADLINE);
    phone
        .call_method(Emulation::SetDeviceMetricsOverride {
            width: 390,
            height: 844,
            device_scale_factor: 2.0,
            mobile: true,
            scale: None,
            screen_width: None,
            screen_height: None,
            position_x: None,
            position_y: None,
            dont_set_visible_size: None,
            screen_orientation: None,
            viewport: None,
            display_feature: None,
            device_posture: None,
        })
        .unwrap();
    open(&phone, &format!("{base}/scheduler/job/{running}"));
    wait_js(
        &phone,
        "the log on a phone",
        DEADLINE,
        "document.querySelector('#log').dataset.ended === 'true'",
    );
    assert_eq!(
        eval(
            &phone,
            "document.documentElement.scrollWidth <= window.innerWidth + 1"
        ),
        true,
        "the job page is wider than a phone"
    );
    screenshot(&phone, "job-phone");
    phone.press_key("Tab").unwrap();
    assert_eq!(
        eval(&phone, "document.activeElement.className"),
        "skip",
        "the first Tab reaches the skip link"
    );

    // refusals are logged with the user and the address
    let serve_log = std::fs::read_to_string(lab.path("serve.log")).unwrap();
    assert!(
        serve_log.contains("refused web job cancel for alice from 127.0.0.1"),
        "{serve_log}"
    );
    assert!(!serve_log.contains("alice-secret"));
}

/// 200,000 lines the way the master stores them, with nested actions.
fn write_long_log(dir: &Path, lines: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = Vec::with_capacity(lines * 90);
    let mut index = Vec::with_capacity(lines * 8);
    let mut action = 0;
    for n in 0..lines {
        index.extend_from_slice(&(text.len() as u64).to_le_bytes());
        let (lvl, msg) = match n % 1000 {
            0 => {
                action += 1;
                (
                    "info",
                    format!("start: 1.{action} action-{action} (timeout 00:05:00) [common]"),
                )
            }
            999 => (
                "info",
                format!("end: 1.{action} action-{action} (duration 00:00:01) [common]"),
            ),
            k if k % 3 == 0 => ("debug", format!("debug detail {n}")),
            _ => (
                "target",
                format!("[  {n}.000000] console line {n} of the long log"),
            ),
        };
        writeln!(
            text,
            "- {{\"dt\": \"2026-12-07T10:00:00.{:06}\", \"lvl\": \"{lvl}\", \"msg\": \"{msg}\"}}",
            n % 1_000_000
        )
        .unwrap();
    }
    std::fs::write(dir.join("output.yaml"), text).unwrap();
    std::fs::write(dir.join("output.idx"), index).unwrap();
}

/// A finished job with a long log, and the service.
fn long_log_lab(lines: usize) -> (Lab, i64, String, Daemon) {
    let lab = Lab::new(false).unwrap();
    lab.store
        .add_device_type(&lava_scheduler::store::NewDeviceType::new("qemu"))
        .unwrap();
    let id = lab
        .store
        .insert_job(&NewJob {
            submitter: "alice".into(),
            description: "a long log".into(),
            definition: "job_name: a long log\n".into(),
            original_definition: "job_name: a long log\n".into(),
            requested_device_type: Some("qemu".into()),
            ..NewJob::default()
        })
        .unwrap();
    lab.store.cancel_job(id, "admin").unwrap();
    let job = lab.store.job(id).unwrap();
    assert_eq!(job.state, JobState::Finished);
    write_long_log(
        &lava_scheduler::master::output_dir(&lab.path("jobs"), &job),
        lines,
    );
    let (base, serve) = serve(&lab);
    (lab, id, base, serve)
}

#[test]
fn long_log_in_chromium() {
    const LINES: usize = 200_000;
    let Some(browser) = browser() else { return };
    let (lab, id, base, _serve) = long_log_lab(LINES);
    let page = agent()
        .get(&format!("{base}/scheduler/job/{id}"))
        .call()
        .unwrap();
    assert_eq!(
        page.status().as_u16(),
        200,
        "{}",
        std::fs::read_to_string(lab.path("serve.log")).unwrap()
    );
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(120));
    let started = Instant::now();
    open(&tab, &format!("{base}/scheduler/job/{id}"));
    wait_js(
        &tab,
        "every line in the browser",
        Duration::from_secs(300),
        &format!("window.lavaLog && window.lavaLog.lines() === {LINES} && window.lavaLog.ended()"),
    );
    let loaded = started.elapsed();
    let mark = |name: &str| {
        eval(
            &tab,
            &format!("(performance.getEntriesByName({name:?})[0] || {{startTime: -1}}).startTime"),
        )
        .as_f64()
        .unwrap()
    };
    let first_rows = mark("log-first-rows");
    let complete = mark("log-complete");
    // interactive: a jump to the middle is drawn in the next frames
    let jump: serde_json::Value = serde_json::from_str(
        eval(
            &tab,
            "new Promise(done => { const t0 = performance.now(); window.lavaLog.goTo(100000); \
             requestAnimationFrame(() => requestAnimationFrame(() => done(JSON.stringify({ \
             ms: performance.now() - t0, shown: !!document.getElementById('L100000')})))); })",
        )
        .as_str()
        .unwrap(),
    )
    .unwrap();
    assert_eq!(jump["shown"], true, "line 100000 is drawn after the jump");
    let rows = eval(&tab, "document.querySelectorAll('#log .log-row').length")
        .as_u64()
        .unwrap();
    assert!(
        rows < 400,
        "{rows} rows in the page: the view is not windowed"
    );
    // folding every action hides their lines
    eval(&tab, "document.getElementById('log-collapse').click()");
    wait_js(
        &tab,
        "the folded view",
        DEADLINE,
        "document.getElementById('log-count') !== null && document.querySelectorAll('#log .log-row.collapsed').length > 0",
    );
    screenshot(&tab, "long-log");
    eprintln!(
        "long log ({LINES} lines): first rows drawn {first_rows:.0} ms after navigation, \
         every line in {complete:.0} ms; jump to line 100000 drawn in {:.1} ms; {rows} rows in the page; \
         test wall clock {:.1} s",
        jump["ms"].as_f64().unwrap_or(-1.0),
        loaded.as_secs_f64()
    );
}

/// Read an SSE body until `event: end`; the data lines and the end's data.
fn read_events(base: &str, path: &str, last_event_id: Option<u64>) -> (Vec<String>, String) {
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let resume = last_event_id.map_or(String::new(), |n| format!("Last-Event-ID: {n}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n{resume}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 2 {
        head.push_str(&line);
        line.clear();
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));
    let mut body = String::new();
    reader.read_to_string(&mut body).unwrap();
    // chunked transfer: the events are in the chunks, in order
    let mut data = Vec::new();
    let mut end = None;
    let mut event = "";
    for line in body.lines() {
        if let Some(name) = line.strip_prefix("event: ") {
            event = if name == "end" { "end" } else { "lines" };
        } else if let Some(value) = line.strip_prefix("data: ") {
            if event == "end" {
                end = Some(value.to_string());
            } else {
                data.push(value.to_string());
            }
        }
    }
    (
        data,
        end.unwrap_or_else(|| panic!("no end event in {} bytes", body.len())),
    )
}

#[test]
fn live_log_resumes() {
    let (lab, id, base, _serve) = long_log_lab(2_000);
    let (all, end) = read_events(&base, &format!("/scheduler/job/{id}/log/live"), None);
    assert_eq!(all.len(), 2_000);
    assert!(all[0].contains("start: 1.1 action-1"), "{}", all[0]);
    let end: serde_json::Value = serde_json::from_str(&end).unwrap();
    assert_eq!(
        (end["state"].as_str(), end["health"].as_str()),
        (Some("Finished"), Some("Canceled"))
    );
    let (rest, _) = read_events(&base, &format!("/scheduler/job/{id}/log/live"), Some(1_990));
    assert_eq!(rest, all[1_990..]);
    let (from_query, _) = read_events(
        &base,
        &format!("/scheduler/job/{id}/log/live?line=1500"),
        None,
    );
    assert_eq!(from_query, all[1_500..]);
    // a queued job: lines written after the viewer connected arrive; the
    // service makes no directory of the master's; deleting the job ends
    // the stream
    let queued = lab
        .store
        .insert_job(&NewJob {
            submitter: "alice".into(),
            definition: "job_name: queued\n".into(),
            original_definition: "job_name: queued\n".into(),
            requested_device_type: Some("qemu".into()),
            ..NewJob::default()
        })
        .unwrap();
    let queued_dir =
        lava_scheduler::master::output_dir(&lab.path("jobs"), &lab.store.job(queued).unwrap());
    let stream = {
        let base = base.clone();
        std::thread::spawn(move || {
            read_events(&base, &format!("/scheduler/job/{queued}/log/live"), None)
        })
    };
    // the stream is open once the service follows the job (its log says so)
    wait_for("the service to follow the queued job", DEADLINE, || {
        std::fs::read_to_string(lab.path("serve.log"))
            .unwrap()
            .contains(&format!("[{queued}] live log: first viewer"))
    });
    assert!(!queued_dir.exists(), "the service made the job's directory");
    write_long_log(&queued_dir, 3);
    wait_for("the service to read the new lines", DEADLINE, || {
        std::fs::read_to_string(lab.path("serve.log"))
            .unwrap()
            .contains(&format!("[{queued}] live log: 3 lines"))
    });
    lab.store.delete_job(queued, "admin").unwrap();
    let (lines, end) = stream.join().unwrap();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let end: serde_json::Value = serde_json::from_str(&end).unwrap();
    // deleting finishes the job first (Canceled), then removes it: the
    // stream ends with whichever the feed saw
    assert!(
        end["state"] == "Deleted" || end["state"] == "Finished",
        "{end}"
    );

    // a private job's stream is not found for anonymous viewers
    let private = lab
        .store
        .insert_job(&NewJob {
            submitter: "bob".into(),
            definition: "job_name: private\n".into(),
            original_definition: "job_name: private\n".into(),
            requested_device_type: Some("qemu".into()),
            visibility: lava_scheduler::model::JobVisibility::Personal,
            ..NewJob::default()
        })
        .unwrap();
    let answer = agent()
        .get(&format!("{base}/scheduler/job/{private}/log/live"))
        .call()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
}
