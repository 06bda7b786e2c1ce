//! Job validation against LAVA's own verdicts on the shared corpus
//! (`../shared/lava-corpus/jobs/`, or `$LAVA_CORPUS_DIR/jobs`): 324 job
//! files with what LAVA 2020.01's validators said about each.
//!
//! The policy (`docs/job-definition.md` §0): a job is invalid when LAVA's
//! submit schema or its non-strict schema refuses it. Disagreements we
//! chose are listed, with their reasons, in `job-corpus-disagreements.md`
//! next to this file; any other disagreement fails.
//!
//! When the corpus is absent each test prints why it is skipped and
//! passes (CI always has it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lava_proto::job::{self, JobDefinition, Options, Report, Roles};

fn corpus_dir() -> PathBuf {
    match std::env::var_os("LAVA_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"),
    }
}

/// One row of `expected.tsv`.
struct Row {
    file: String,
    strict: String,
    nonstrict: String,
    submit: String,
    kind: String,
}

impl Row {
    /// The §0 policy applied to LAVA's verdicts.
    fn lava_policy_valid(&self) -> bool {
        self.nonstrict == "valid" && self.submit == "valid"
    }
}

/// The corpus rows, or `None` (after printing why) when it is absent.
fn corpus() -> Option<(PathBuf, Vec<Row>)> {
    let dir = corpus_dir();
    let jobs = dir.join("jobs");
    let Ok(tsv) = std::fs::read_to_string(jobs.join("expected.tsv")) else {
        println!("skipping: LAVA corpus not found at {}", dir.display());
        return None;
    };
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name} in expected.tsv"))
    };
    let (file, strict, nonstrict, submit, kind) = (
        column("file"),
        column("verdict"),
        column("nonstrict"),
        column("submit"),
        column("kind"),
    );
    let rows = lines
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Row {
                file: cols[file].to_owned(),
                strict: cols[strict].to_owned(),
                nonstrict: cols[nonstrict].to_owned(),
                submit: cols[submit].to_owned(),
                kind: cols[kind].to_owned(),
            }
        })
        .collect();
    Some((jobs, rows))
}

fn judge(jobs: &Path, row: &Row) -> Report {
    let bytes = std::fs::read(jobs.join(&row.file)).expect("corpus file");
    job::validate_bytes(&bytes, &Options::default())
}

/// `path → our verdict is valid` from the disagreement list.
fn listed_disagreements() -> BTreeMap<String, bool> {
    let text = include_str!("job-corpus-disagreements.md");
    let mut listed = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("- `") else {
            continue;
        };
        let (path, rest) = rest.split_once('`').expect("closing backquote");
        let valid = if rest.contains("ours **valid**") {
            true
        } else if rest.contains("ours **invalid**") {
            false
        } else {
            panic!("entry {path} does not say `ours **valid**` or `ours **invalid**`")
        };
        assert!(
            listed.insert(path.to_owned(), valid).is_none(),
            "{path} listed twice"
        );
    }
    listed
}

#[test]
fn verdicts_follow_the_policy_of_spec_section_0() {
    let Some((jobs, rows)) = corpus() else {
        return;
    };
    assert_eq!(rows.len(), 324, "the corpus has 324 job files");
    let listed = listed_disagreements();
    let mut agree = 0;
    let mut allowed = 0;
    let mut failures = Vec::new();
    for row in &rows {
        let report = judge(&jobs, row);
        let ours = report.is_valid();
        let lava = row.lava_policy_valid();
        let first = report
            .first_error()
            .map(ToString::to_string)
            .unwrap_or_default();
        match listed.get(&row.file) {
            _ if ours == lava => {
                agree += 1;
                if listed.contains_key(&row.file) {
                    failures.push(format!("{}: listed as a disagreement but agrees", row.file));
                }
            }
            Some(expected) if *expected == ours => {
                allowed += 1;
                println!(
                    "listed disagreement: {} (ours valid: {ours}) {first}",
                    row.file
                );
            }
            _ => failures.push(format!(
                "{}: LAVA policy says {}, we say {} {first}",
                row.file,
                if lava { "valid" } else { "invalid" },
                if ours { "valid" } else { "invalid" },
            )),
        }
    }
    println!(
        "job corpus: agreement {agree}/{} with the §0 policy, {allowed} listed disagreements",
        rows.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for path in listed.keys() {
        assert!(
            rows.iter().any(|r| &r.file == path),
            "{path} is listed but not in the corpus"
        );
    }
}

/// LAVA's strict mode refuses these only for keys it does not know: the
/// web UI shows warnings, and so do we.
#[test]
fn strict_only_refusals_become_warnings() {
    let Some((jobs, rows)) = corpus() else {
        return;
    };
    let mut checked = 0;
    for row in rows
        .iter()
        .filter(|r| r.strict == "invalid" && r.lava_policy_valid())
    {
        let report = judge(&jobs, row);
        if !report.is_valid() {
            continue; // a listed disagreement
        }
        assert!(
            !report.warnings.is_empty(),
            "{}: LAVA's strict schema refuses it, yet we have no warning",
            row.file
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} strict-only files");
}

/// Every job we accept reads into the typed model; so does every
/// per-device job the server produces from a multinode submission.
#[test]
fn accepted_and_server_written_jobs_read_into_the_model() {
    let Some((jobs, rows)) = corpus() else {
        return;
    };
    let mut read = 0;
    for row in &rows {
        let text = match std::fs::read_to_string(jobs.join(&row.file)) {
            Ok(text) => text,
            Err(_) => continue, // not UTF-8: refused by validation
        };
        if row.kind == "post-split" {
            let job = JobDefinition::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", row.file));
            let multinode = job.protocols.multinode.as_ref().expect("multinode");
            let role = multinode.role.as_deref().expect("a sub-job has its role");
            // After the split, `roles` maps device names to role names.
            match &multinode.roles {
                Roles::Assigned(devices) => assert!(!devices.is_empty()),
                Roles::Defined(roles) => assert!(roles.is_empty(), "{}", row.file),
            }
            for action in &job.actions {
                // `role` became one string (or was never given).
                let roles = &action.common().role;
                assert!(
                    roles.is_empty() || roles == &[role],
                    "{}: {roles:?}",
                    row.file
                );
            }
            read += 1;
        } else if job::validate(&text).is_valid() {
            let (job, _) =
                JobDefinition::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", row.file));
            assert!(!job.job_name.is_empty());
            read += 1;
        }
    }
    assert!(read >= 210, "only {read} jobs read");
}

/// What a user reads for some of the broken files: the place and the
/// reason, in their terms.
#[test]
fn errors_name_the_place_and_the_reason() {
    let Some((jobs, _)) = corpus() else {
        return;
    };
    // (file, path of an error, words its message contains)
    let cases: &[(&str, &str, &str)] = &[
        (
            "invalid-timeout-zero",
            "timeouts.job.minutes",
            "must be an integer ≥ 1, got 0",
        ),
        (
            "invalid-timeout-quoted-number",
            "timeouts.job.minutes",
            "got the string \"30\"",
        ),
        (
            "invalid-timeout-bad-unit",
            "timeouts.job.mins",
            "did you mean `minutes`?",
        ),
        (
            "invalid-timeout-two-units",
            "timeouts.job",
            "give exactly one unit",
        ),
        (
            "invalid-timeout-action-exceeds-job",
            "actions[0].deploy.timeout",
            "2h is longer than the job timeout (timeouts.job: 30m)",
        ),
        (
            "invalid-timeout-named-action-bad-name",
            "timeouts.actions.Http_Download",
            "lower-case letters and `-`",
        ),
        (
            "invalid-deploy-without-to",
            "actions[0].deploy",
            "missing required key `to`",
        ),
        (
            "invalid-boot-without-method",
            "actions[1].boot",
            "missing required key `method`",
        ),
        (
            "invalid-boot-method-underscore",
            "actions[1].boot.method",
            "did you mean `u-boot`?",
        ),
        (
            "invalid-unknown-deploy-to",
            "actions[0].deploy.to",
            "unknown deploy method \"floppy\"; choose from docker,",
        ),
        (
            "invalid-deploy-images-empty",
            "actions[0].deploy.images",
            "is empty",
        ),
        (
            "invalid-deploy-bad-compression",
            "actions[0].deploy.images.rootfs.compression",
            "unknown compression `lz4`; choose from bz2, gz, xz, zip",
        ),
        (
            "invalid-priority-capitalised",
            "priority",
            "did you mean `high`?",
        ),
        (
            "invalid-priority-negative",
            "priority",
            "from 0 to 100, got -1",
        ),
        (
            "invalid-context-unknown-variable",
            "context.favourite_colour",
            "unknown context variable",
        ),
        (
            "invalid-secrets-with-public-visibility",
            "secrets",
            "cannot be used with `visibility: public`",
        ),
        (
            "invalid-multinode-host-role-unknown",
            "protocols.lava-multinode.roles.guest.host_role",
            "no role `nosuchrole`",
        ),
        (
            "invalid-multinode-action-without-role",
            "actions[1].boot",
            "missing `role`",
        ),
        (
            "invalid-namespace-partial",
            "actions[1].boot",
            "every action needs one",
        ),
        (
            "invalid-test-definition-missing-path",
            "actions[2].test.definitions[0]",
            "missing required key `path`",
        ),
        ("invalid-action-empty-item", "actions[1]", "is empty"),
        (
            "invalid-unknown-action",
            "actions[1].reboot",
            "unknown action type `reboot`",
        ),
        (
            "invalid-test-monitor-name-with-slash",
            "actions[2].test.monitors[0].name",
            "\"kernel/boot\" is not a valid name",
        ),
        (
            "invalid-extra-top-level-key",
            "timeout",
            "did you mean `timeouts`?",
        ),
        ("invalid-empty", "", "must be a mapping"),
        ("invalid-not-yaml", "", "YAML: line 3 column 13"),
        ("invalid-yaml-tab-indent", "", "YAML: line 4"),
        ("invalid-yaml-binary-garbage", "", "YAML: line 1 column 1"),
        (
            "invalid-deeply-nested-crash",
            "",
            "nesting deeper than 128 levels",
        ),
        ("invalid-alias-bomb", "", "alias expansion exceeds"),
        (
            "edge-timeout-float",
            "timeouts.job.hours",
            "must be an integer ≥ 1, got 1.5",
        ),
    ];
    for (name, path, words) in cases {
        let file = format!("synthetic/{name}.yaml");
        let bytes = std::fs::read(jobs.join(&file)).expect("corpus file");
        let report = job::validate_bytes(&bytes, &Options::default());
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.path == *path && e.message.contains(words)),
            "{file}: no error at `{path}` saying `{words}` in:\n{report}"
        );
        if !path.is_empty() {
            assert!(
                report
                    .errors
                    .iter()
                    .all(|e| e.path.is_empty() || e.line.is_some()),
                "{file}: an error without a line:\n{report}"
            );
        }
    }
}

#[test]
fn warnings_for_what_only_strict_mode_refuses() {
    let Some((jobs, _)) = corpus() else {
        return;
    };
    let cases: &[(&str, &str, &str)] = &[
        (
            "invalid-deploy-unknown-key",
            "actions[0].deploy.imagez",
            "did you mean `images`?",
        ),
        (
            "invalid-boot-auto-login-password-without-prompt",
            "actions[1].boot.auto_login.password",
            "without `password_prompt`",
        ),
        (
            "edge-timeout-bool",
            "timeouts.job.hours",
            "the boolean `true` is read as 1",
        ),
        ("edge-duplicate-keys", "", "duplicate key"),
    ];
    for (name, path, words) in cases {
        let file = format!("synthetic/{name}.yaml");
        let bytes = std::fs::read(jobs.join(&file)).expect("corpus file");
        let report = job::validate_bytes(&bytes, &Options::default());
        assert!(report.is_valid(), "{file}:\n{report}");
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.path == *path && w.message.contains(words) && w.line.is_some()),
            "{file}: no warning at `{path}` saying `{words}` in:\n{report}"
        );
    }
}
