//! `lava-test-retry` → `lava-test-shell` (docs/pipeline.md §11.2): start
//! `lava-test-runner` for the block's stage on the device and turn the
//! signals it prints into results.
//!
//! Beyond LAVA: a `STARTRUN` while a run is open closes the open run as
//! failed (a failed `run.sh` never sends `ENDRUN`); a signal split by
//! kernel messages is recovered or reported ([`super::signals`]); a
//! definition may carry a `timeout:` of its own, reported as a failed run.
//!
//! In a MultiNode sub-job the block's action is `multinode-test` (no
//! retry wrapper, as LAVA's): it also answers
//! the DUT helpers' `<LAVA_MULTI_NODE>` markers through the coordinator
//! (docs/pipeline.md §12.4).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lava_proto::yaml::{Mapping, Value};

use crate::action::{About, Action, Populate, RunContext, Validate};
use crate::actions::test::signals::{Event, SignalParser};
use crate::connection::LineOutcome;
use crate::connection::{lock, ShellSession};
use crate::error::{Error, ErrorKind};
use crate::job::scalar;
use crate::logger::{result_map, Logger};
use crate::timeout::parse_timeout;

/// `lava-test-retry`.
#[derive(Debug, Default)]
pub struct LavaTestRetry;

const ABOUT_LAVA_TEST_RETRY: About = About::new(
    "lava-test-retry",
    "Retry wrapper for lava-test-shell",
    "Retry support for Lava Test Shell",
);

impl Action for LavaTestRetry {
    fn about(&self) -> About {
        ABOUT_LAVA_TEST_RETRY
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::LavaTimeout
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(LavaTestShell::default());
        Ok(())
    }
}

/// The default fix-up of results (`PASS` → `pass`...).
pub fn default_fixup() -> BTreeMap<String, String> {
    ["pass", "fail", "skip", "unknown"]
        .iter()
        .flat_map(|r| {
            [
                (r.to_uppercase(), r.to_string()),
                (r.to_string(), r.to_string()),
            ]
        })
        .collect()
}

struct Run {
    id: String,
    uuid: String,
    started: Instant,
    pattern: Option<regex::Regex>,
    fixup: BTreeMap<String, String>,
    timeout: Option<Duration>,
}

/// `lava-test-shell`.
#[derive(Debug, Default)]
pub struct LavaTestShell {
    timeouts: BTreeMap<String, Duration>,
    /// A MultiNode sub-job's test shell (`multinode-test`, with the
    /// bridge to the coordinator).
    multinode: bool,
}

impl LavaTestShell {
    /// A MultiNode sub-job's test action, `multinode-test`: at the top of
    /// its block (no retry wrapper, as LAVA's), with the bridge to the
    /// coordinator (docs/pipeline.md §12.4).
    pub fn multinode() -> Self {
        LavaTestShell {
            multinode: true,
            ..LavaTestShell::default()
        }
    }
}

/// The state of one test shell run, fed line by line (also used by the
/// benchmark and tests without a device).
pub struct SignalHandler<'a> {
    logger: &'a Logger,
    namespace: String,
    connection_namespace: Option<String>,
    stage: u32,
    run: Option<Run>,
    test_set: Option<String>,
    /// Errors recorded (the action fails at the end when any).
    pub errors: Vec<String>,
    /// Test cases recorded.
    pub cases: usize,
    /// Signals given up (reported).
    pub corrupted: usize,
    /// Whether `lava-test-runner` said it ended.
    pub finished: bool,
    /// Per-definition metadata: uuid → (repository, path, revision, commit, pattern).
    pub definitions: BTreeMap<String, Mapping>,
    timeouts: BTreeMap<String, Duration>,
    /// Namespaces whose console a `TESTFEEDBACK` asked to drain.
    pub feedback_requests: Vec<String>,
}

impl<'a> SignalHandler<'a> {
    /// A handler logging to `logger`.
    pub fn new(logger: &'a Logger, namespace: &str, stage: u32) -> Self {
        SignalHandler {
            logger,
            namespace: namespace.to_string(),
            connection_namespace: None,
            stage,
            run: None,
            test_set: None,
            errors: Vec::new(),
            cases: 0,
            corrupted: 0,
            finished: false,
            definitions: BTreeMap::new(),
            timeouts: BTreeMap::new(),
            feedback_requests: Vec::new(),
        }
    }

    fn close_run(&mut self, result: &str, reason: Option<&str>) {
        let Some(run) = self.run.take() else { return };
        let meta = self.definitions.get(&run.uuid).cloned().unwrap_or_default();
        let duration = format!("{:.02}", run.started.elapsed().as_secs_f64());
        let mut r = result_map([
            ("definition", "lava".into()),
            ("case", run.id.as_str().into()),
            ("uuid", run.uuid.as_str().into()),
            ("duration", duration.as_str().into()),
            ("result", result.into()),
            ("namespace", self.namespace.as_str().into()),
        ]);
        for key in ["repository", "path"] {
            if let Some(v) = meta.get(key) {
                r.insert(key, v.clone());
            }
        }
        r.insert(
            "revision",
            meta.get("revision")
                .cloned()
                .unwrap_or_else(|| "unspecified".into()),
        );
        if let Some(c) = meta.get("commit-id").filter(|c| !c.is_null()) {
            r.insert("commit_id", c.clone());
        }
        if let Some(cns) = &self.connection_namespace {
            r.insert("connection-namespace", cns.as_str());
        }
        if let Some(reason) = reason {
            r.insert("error_msg", reason);
        }
        if result == "pass" {
            self.logger.info(format!(
                "Ending test lava.{} ({}), duration {duration}",
                run.id, run.uuid
            ));
        }
        self.logger.results(r);
    }

    /// Whether the open run passed its own timeout.
    pub fn check_run_timeout(&mut self) -> Option<String> {
        let run = self.run.as_ref()?;
        let limit = run.timeout?;
        if run.started.elapsed() < limit {
            return None;
        }
        let message = format!(
            "test {} timed out after {} seconds",
            run.id,
            limit.as_secs()
        );
        self.logger.error(message.clone());
        self.close_run("fail", Some(&message));
        Some(message)
    }

    fn case(&mut self, mut result: Mapping) {
        if let Some(set) = &self.test_set {
            result.insert("set", set.as_str());
        }
        self.cases += 1;
        self.logger.results(result);
    }

    /// Handle one console line.
    pub fn line(&mut self, parser: &mut SignalParser, line: &str) -> Result<(), Error> {
        if let Some(run) = &self.run {
            if let Some(re) = &run.pattern {
                if let Some(caps) = re.captures(line) {
                    let get = |n: &str| caps.name(n).map(|m| m.as_str().to_string());
                    if let Some(id) = get("test_case_id") {
                        let raw = get("result").unwrap_or_default();
                        let result = run.fixup.get(&raw).cloned().unwrap_or(raw.clone());
                        let definition = run.id.clone();
                        self.logger.marker(&id, "test_case");
                        if id.split_whitespace().count() != 1 {
                            self.logger
                                .warning(format!("Skipping test case id with whitespace: '{id}'"));
                        } else if !["pass", "fail", "skip", "unknown"].contains(&result.as_str()) {
                            self.logger
                                .error(format!("Bad test result: '{raw}' for {id}"));
                        } else {
                            let mut r = result_map([
                                ("definition", definition.into()),
                                ("case", id.as_str().into()),
                                ("result", result.as_str().into()),
                            ]);
                            if let Some(m) = get("measurement") {
                                r.insert("measurement", m);
                            }
                            if let Some(u) = get("units") {
                                r.insert("units", u);
                            }
                            self.case(r);
                        }
                    }
                }
            }
        }
        for event in parser.feed_line(line) {
            self.event(event)?;
        }
        Ok(())
    }

    /// Handle one event.
    pub fn event(&mut self, event: Event) -> Result<(), Error> {
        match event {
            Event::RunnerExit => {
                self.logger
                    .info("ok: lava_test_shell seems to have completed");
                self.test_set = None;
                self.finished = true;
            }
            Event::InstallFail => {
                self.logger.error(format!(
                    "Unable to start stage {}. Read the log for more details.",
                    self.stage
                ));
                self.errors
                    .push(format!("Unable to start test stage {}", self.stage));
                self.logger.results(result_map([
                    ("definition", "lava".into()),
                    ("case", format!("stage_{}", self.stage).into()),
                    ("result", "fail".into()),
                ]));
            }
            Event::Corrupted { text, reason } => {
                self.corrupted += 1;
                let message = format!("Corrupted signal lost ({reason}): {text}");
                self.logger.error(message.clone());
                self.errors.push(message);
            }
            Event::Signal { name, params } => self.signal(&name, &params)?,
        }
        Ok(())
    }

    fn signal(&mut self, name: &str, params: &[String]) -> Result<(), Error> {
        self.logger
            .debug(format!("Received signal: <{name}> {}", params.join(" ")));
        match name {
            "STARTRUN" => {
                let [id, uuid] = params else {
                    self.errors
                        .push(format!("Invalid STARTRUN signal: {params:?}"));
                    return Ok(());
                };
                if let Some(open) = &self.run {
                    let message = format!("test {} ended without ENDRUN", open.id);
                    self.logger.warning(message.clone());
                    self.close_run("fail", Some(&message));
                }
                self.logger
                    .info(format!("Starting test lava.{id} ({uuid})"));
                let meta = self.definitions.get(uuid).cloned().unwrap_or_default();
                let mut pattern = None;
                let mut fixup = default_fixup();
                if let Some(p) = meta.get("testdef_pattern").filter(|p| !p.is_null()) {
                    if let Some(text) = p.get("pattern").and_then(Value::as_str) {
                        match regex::Regex::new(&format!("(?m){text}")) {
                            Ok(re) => {
                                self.logger
                                    .debug(format!("Enabling test definition pattern '{text}'"));
                                pattern = Some(re);
                            }
                            Err(e) => self
                                .errors
                                .push(format!("Invalid parse pattern '{text}': {e}")),
                        }
                    }
                    if let Some(Value::Mapping(f)) = p.get("fixupdict") {
                        for (k, v) in f.iter() {
                            fixup.insert(scalar(k), scalar(v));
                        }
                    }
                }
                // `<index>_<name>`: per-definition timeouts are by name
                let definition_name = id
                    .split_once('_')
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_else(|| id.clone());
                self.run = Some(Run {
                    id: id.clone(),
                    uuid: uuid.clone(),
                    started: Instant::now(),
                    pattern,
                    fixup,
                    timeout: self.timeouts.get(&definition_name).copied(),
                });
            }
            "ENDRUN" => {
                let open = self.run.as_ref().map(|r| r.id.clone());
                match (params, open) {
                    ([id, _], Some(open)) if *id == open => self.close_run("pass", None),
                    _ => {
                        let message = format!("ENDRUN without a matching STARTRUN: {params:?}");
                        self.logger.error(message.clone());
                        self.errors.push(message);
                    }
                }
            }
            "STARTTC" => {
                if let Some(case) = params.first() {
                    self.logger.marker(case, "start_test_case");
                }
            }
            "ENDTC" => {
                if let Some(case) = params.first() {
                    self.logger.marker(case, "end_test_case");
                }
            }
            "TESTCASE" => self.testcase(params),
            "TESTSET" => match params {
                [cmd, name] if cmd == "START" => self.test_set = Some(name.clone()),
                [cmd] if cmd == "STOP" => self.test_set = None,
                _ => return Err(Error::job(format!("Invalid TESTSET signal: {params:?}"))),
            },
            "TESTREFERENCE" => {
                let [case, result, url] = params else {
                    return Err(Error::test(format!(
                        "Invalid TESTREFERENCE signal: {params:?}"
                    )));
                };
                let definition = self
                    .run
                    .as_ref()
                    .map(|r| r.id.clone())
                    .unwrap_or_else(|| "lava".into());
                self.case(result_map([
                    ("definition", definition.into()),
                    ("case", case.as_str().into()),
                    ("result", result.as_str().into()),
                    ("reference", url.as_str().into()),
                ]));
            }
            "TESTFEEDBACK" => {
                if let Some(ns) = params.first() {
                    self.feedback_requests.push(ns.clone());
                }
            }
            "TESTRAISE" => return Err(Error::test(params.join(" "))),
            "TESTEVENT" => self.logger.event(params.join(" ")),
            _ => {}
        }
        Ok(())
    }

    fn testcase(&mut self, params: &[String]) {
        let mut fields = BTreeMap::new();
        for p in params {
            match p.split_once('=') {
                Some((k, v)) if !v.contains('=') => {
                    fields.insert(k.to_lowercase(), v.to_string());
                }
                _ => {
                    let message = format!("Invalid TESTCASE parameter '{p}': dropped {params:?}");
                    self.logger.error(message.clone());
                    self.errors.push(message);
                    return;
                }
            }
        }
        let Some(id) = fields.get("test_case_id").cloned() else {
            self.errors
                .push(format!("TESTCASE without TEST_CASE_ID: {params:?}"));
            return;
        };
        self.logger.marker(&id, "test_case");
        let Some(run) = &self.run else {
            let message = format!("Invalid TESTCASE signal (no test run started): {params:?}");
            self.logger.error(message.clone());
            self.errors.push(message);
            return;
        };
        let raw = fields.get("result").cloned().unwrap_or_default();
        let Some(result) = run.fixup.get(&raw).cloned() else {
            self.logger
                .error(format!("Bad test result: '{raw}' for {id}"));
            return;
        };
        let mut r = result_map([
            ("definition", run.id.as_str().into()),
            ("case", id.as_str().into()),
            ("result", result.as_str().into()),
        ]);
        if let Some(m) = fields.get("measurement") {
            match m.parse::<f64>() {
                Ok(x) if x.is_finite() => {
                    r.insert("measurement", m.as_str());
                }
                _ => {
                    self.logger
                        .error(format!("Invalid measurement '{m}' for {id}"));
                    return;
                }
            }
        }
        if let Some(u) = fields.get("units") {
            r.insert("units", u.as_str());
        }
        self.case(r);
    }

    /// The runner ended (or the action is leaving): close what is open.
    pub fn finish(&mut self, parser: &mut SignalParser) {
        for event in parser.finish() {
            let _ = self.event(event);
        }
        if self.run.is_some() {
            self.logger.warning("Marking unfinished test run as failed");
            self.close_run("fail", Some("the test run did not finish"));
        }
    }
}

const ABOUT_LAVA_TEST_SHELL: About = About::new(
    "lava-test-shell",
    "Executing lava-test-runner",
    "Lava Test Shell",
);

const ABOUT_MULTINODE_TEST: About = About::new(
    "multinode-test",
    "Executing lava-test-runner",
    "Multinode Lava Test Shell",
);

impl Action for LavaTestShell {
    fn about(&self) -> About {
        if self.multinode {
            ABOUT_MULTINODE_TEST
        } else {
            ABOUT_LAVA_TEST_SHELL
        }
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::LavaTimeout
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let Some(Value::Sequence(definitions)) = v.node.block.get("definitions").cloned() else {
            return Err(Error::job("Missing 'definitions' in the test block"));
        };
        for d in &definitions {
            if d.get("repository").is_none() {
                v.error("Test definition is missing 'repository'");
            }
            if let (Some(name), Some(t)) = (d.get("name").map(scalar), d.get("timeout")) {
                match parse_timeout(t) {
                    Ok(t) => {
                        self.timeouts.insert(name, t.duration);
                    }
                    Err(e) => v.error(format!("Invalid timeout of test definition {name}: {e}")),
                }
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let ns = ctx.namespace().to_string();
        let block = ctx.node.block.clone();
        if block.timeout.is_some_and(|t| t.skip) {
            ctx.logger
                .info("The job will continue with the next action block if this one times out");
        }
        let Some(session) = ctx.connection() else {
            return Err(Error::bug("No connection retrieved from namespace data"));
        };
        let stage = block.stage.unwrap_or(0);
        let results_dir = ctx
            .get_str("test", "results", "lava_test_results_dir")
            .ok_or_else(|| Error::job("Nothing to run. Maybe the 'deploy' stage is missing, otherwise this is a bug which should be reported."))?;
        let sh = ctx
            .get_str("test", "shared", "lava_test_sh_cmd")
            .unwrap_or_else(|| "/bin/sh".into());
        let pre_commands: Vec<String> = match ctx.get("test", "lava-test-shell", "pre-command-list")
        {
            Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
            _ => Vec::new(),
        };
        // what the overlay actions published for each definition
        let mut definitions = BTreeMap::new();
        if let Some(Value::Sequence(uuids)) = ctx.get("repo-action", "repo-action", "uuid-list") {
            for uuid in uuids.iter().map(scalar) {
                let mut meta = Mapping::new();
                for (label, key, value) in ctx.data.entries(&ns, "test") {
                    if label == uuid {
                        meta.insert(key, value);
                    }
                }
                definitions.insert(uuid, meta);
            }
        }
        let connection_timeout = ctx.node.connection_timeout;
        let delay = ctx.node.character_delay;
        let mut s = lock(&session);
        if s.prompts.is_empty() {
            s.prompts = vec![crate::actions::boot::default_prompt(&ctx.job.device)];
        }
        s.connection_timeout = connection_timeout;
        let prompts = s.prompt_patterns()?;
        let check = s.check_char.clone();
        s.sendline(&check, delay, ctx.cancel)?;
        s.force_prompt_wait(&prompts, &ctx.deadline, ctx.cancel)?;
        for command in &pre_commands {
            s.sendline(command, delay, ctx.cancel)?;
            s.wait_prompt(&ctx.deadline, ctx.cancel)?;
        }
        for command in [
            format!("export SHELL={sh}"),
            format!(". {results_dir}/environment"),
        ] {
            s.sendline(&command, delay, ctx.cancel)?;
            s.wait_prompt(&ctx.deadline, ctx.cancel)?;
        }
        let poll = ctx
            .node
            .timeout
            .duration
            .min(connection_timeout)
            .max(Duration::from_millis(100));
        ctx.logger.debug(format!(
            "Test shell timeout: {}s (minimum of the action and connection timeout)",
            poll.as_secs()
        ));
        s.sendline(
            &format!("{results_dir}/bin/lava-test-runner {results_dir}/{stage}"),
            delay,
            ctx.cancel,
        )?;
        let mut parser = SignalParser::new();
        let mut handler = SignalHandler::new(ctx.logger, &ns, stage);
        handler.connection_namespace = block.connection_namespace.clone();
        handler.definitions = definitions;
        handler.timeouts = self.timeouts.clone();
        let outcome = shell_loop(&mut s, &mut parser, &mut handler, ctx, poll);
        handler.finish(&mut parser);
        drop(s);
        ctx.logger.debug(format!(
            "lava-test-shell: {} test cases, {} corrupted signals",
            handler.cases, handler.corrupted
        ));
        if handler.corrupted > 0 {
            ctx.results
                .insert("corrupted_signals", handler.corrupted as i64);
        }
        outcome?;
        if !handler.errors.is_empty() {
            for e in &handler.errors {
                ctx.error(e.clone());
            }
            return Err(Error::test(handler.errors.join("; ")));
        }
        Ok(())
    }
}

fn shell_loop(
    s: &mut ShellSession,
    parser: &mut SignalParser,
    handler: &mut SignalHandler<'_>,
    ctx: &mut RunContext<'_>,
    poll: Duration,
) -> Result<(), Error> {
    loop {
        if let Some(message) = handler.check_run_timeout() {
            return Err(Error::test(message));
        }
        let until = ctx.deadline.within(poll);
        match s.read_line(until, ctx.cancel)? {
            LineOutcome::Line(line) => {
                let job = ctx.job;
                if let Some(protocol) = job.multinode() {
                    if let Some((api, args)) = crate::protocols::multinode::parse_marker(&line) {
                        // docs/pipeline.md §12.4
                        if let Some((case, result)) = protocol.bridge(s, ctx, &api, &args)? {
                            handler.testcase(&[
                                format!("TEST_CASE_ID={case}"),
                                format!("RESULT={result}"),
                            ]);
                        }
                        continue;
                    }
                }
                handler.line(parser, &line)?;
                for ns in std::mem::take(&mut handler.feedback_requests) {
                    drain(ctx, &ns, Duration::from_secs(1));
                }
                if handler.finished {
                    return Ok(());
                }
            }
            LineOutcome::Eof => {
                return Err(Error::infrastructure("lava_test_shell connection dropped."))
            }
            LineOutcome::Timeout => {
                if ctx.deadline.expired() {
                    return Err(ctx.deadline.error());
                }
                // the poll interval passed: read the other namespaces' consoles
                let own = ctx.node.block.connection_namespace().to_string();
                for ns in ctx.data.connection_namespaces() {
                    if ns != own && ns != ctx.namespace() {
                        drain(ctx, &ns, Duration::from_millis(100));
                    }
                }
            }
        }
    }
}

fn drain(ctx: &mut RunContext<'_>, ns: &str, duration: Duration) {
    match ctx.data.connection(ns) {
        Some(other) => {
            if let Ok(mut o) = other.try_lock() {
                o.listen_feedback(duration, ctx.cancel);
            }
        }
        None => ctx
            .logger
            .error(format!("Unknown namespace for feedback: '{ns}'")),
    }
}
