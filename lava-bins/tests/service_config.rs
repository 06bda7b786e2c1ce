//! The daemons' configuration files in LAVA's format (docs/operations.md):
//! what `lava_bins::service_config` builds from them, what the real
//! binaries do with `--config-file` and `--print-args`, a worker started
//! from its file alone, and `systemd-analyze verify` on our units.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{bin, wait_for, Daemon, Lab, DEADLINE};
use lava_bins::service_config::{
    self, http_args, master_args, parse_env_file, slave_args, Service, ServiceConfigError,
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// A worker's file as LAVA 2020.01 installs it: every setting commented out.
const SLAVE_ALL_COMMENTED: &str = "# Configuration for the worker daemon

# URLs of the master's sockets
# MASTER_URL=\"tcp://<master>:5556\"
# LOGGER_URL=\"tcp://<master>:5555\"

# IPV6=\"--ipv6\"
# SOCKS_PROXY=\"--socks-proxy localhost:8081\"

# HOSTNAME=\"--hostname <hostname.fqdn>\"

# LOGLEVEL=\"DEBUG\"

# ENCRYPT=\"--encrypt\"
# MASTER_CERT=\"--master-cert /etc/lava-dispatcher/certificates.d/<master.key>\"
# SLAVE_CERT=\"--slave-cert /etc/lava-dispatcher/certificates.d/<slave.key_secret>\"
";

/// The same with every setting made, in the forms LAVA's files use.
const SLAVE_ALL_SET: &str = "# every setting
MASTER_URL=\"tcp://lava.example.org:5556\"
LOGGER_URL=tcp://lava.example.org:5555
IPV6=\"--ipv6\"
SOCKS_PROXY=\"--socks-proxy localhost:8081\"
HOSTNAME=\"--hostname worker-01.example.org\"
LOGLEVEL='INFO'
ENCRYPT=\"--encrypt\"
MASTER_CERT=\"--master-cert /etc/lava-dispatcher/certificates.d/master.key\"
SLAVE_CERT=\"--slave-cert /etc/lava-dispatcher/certificates.d/worker-01.key_secret\"
";

const MASTER_ALL_SET: &str = "MASTER_SOCKET=\"--master-socket tcp://[::]:5556\"
IPV6=\"--ipv6\"
EVENT_URL=\"--event-url tcp://localhost:5500\"
LOGLEVEL=\"WARNING\"
; ours
LOG_SOCKET=\"--log-socket tcp://[::]:5555\"
DATABASE_URL=\"--database postgresql://lavaserver@localhost/lavaserver\"
LOG_FILE=\"--log-file -\"
ENCRYPT=\"--encrypt\"
MASTER_CERT=\"--master-cert /etc/lava-dispatcher/certificates.d/master.key_secret\"
SLAVES_CERTS=\"--slaves-certs /etc/lava-dispatcher/certificates.d/\"
";

const SLAVE_DEFAULTS: &str = "--level DEBUG --master tcp://localhost:5556 \
    --socket-addr tcp://localhost:5555 --log-file /var/log/lava-dispatcher/lava-slave.log";
const MASTER_DEFAULTS: &str = "--level DEBUG --log-file /var/log/lava-server/lava-master.log";
const HTTP_DEFAULTS: &str = "--level INFO --log-file /var/log/lava-server/lava-server-http.log";

#[test]
fn an_all_commented_file_gives_lavas_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "lava-slave", SLAVE_ALL_COMMENTED);
    assert_eq!(parse_env_file(&file).unwrap(), vec![]);
    assert_eq!(slave_args(&[file]).unwrap(), words(SLAVE_DEFAULTS));
}

#[test]
fn every_variable_set() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "lava-slave", SLAVE_ALL_SET);
    assert_eq!(
        slave_args(&[file]).unwrap(),
        words(
            "--level INFO --master tcp://lava.example.org:5556 \
             --socket-addr tcp://lava.example.org:5555 --ipv6 --socks-proxy localhost:8081 \
             --encrypt --master-cert /etc/lava-dispatcher/certificates.d/master.key \
             --slave-cert /etc/lava-dispatcher/certificates.d/worker-01.key_secret \
             --hostname worker-01.example.org --log-file /var/log/lava-dispatcher/lava-slave.log"
        )
    );
    let file = write(dir.path(), "lava-master", MASTER_ALL_SET);
    let outcome =
        service_config::service_args(Service::Master, std::slice::from_ref(&file)).unwrap();
    assert_eq!(
        outcome.args,
        words(
            "--level WARNING --master-socket tcp://[::]:5556 --log-socket tcp://[::]:5555 \
             --ipv6 --encrypt \
             --master-cert /etc/lava-dispatcher/certificates.d/master.key_secret \
             --slaves-certs /etc/lava-dispatcher/certificates.d/ \
             --database postgresql://lavaserver@localhost/lavaserver --log-file -"
        )
    );
    // LAVA's EVENT_URL is known and not used
    assert_eq!(outcome.ignored.len(), 1);
    assert_eq!(outcome.ignored[0].key, "EVENT_URL");
    assert!(outcome.ignored[0].reason.is_some());
}

#[test]
fn later_files_win_and_missing_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let default = write(
        dir.path(),
        "default",
        "LOGLEVEL=ERROR\nMASTER_URL=tcp://a:1\nIPV6=--ipv6\n",
    );
    let etc = write(dir.path(), "etc", "LOGLEVEL=INFO\nIPV6=\n");
    let missing = dir.path().join("missing");
    assert_eq!(
        slave_args(&[default, missing, etc]).unwrap(),
        words(
            "--level INFO --master tcp://a:1 --socket-addr tcp://localhost:5555 \
             --log-file /var/log/lava-dispatcher/lava-slave.log"
        )
    );
}

#[test]
fn a_malformed_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    for (text, line, why) in [
        (
            "# fine\nMASTER_URL=tcp://m:5556\nENCRYPT --encrypt\n",
            3,
            "not an assignment",
        ),
        (
            "LOGLEVEL=DEBUG\nMASTER_CERT=\"--master-cert /x\nSLAVE_CERT=y\n",
            2,
            "unterminated double quote",
        ),
        (
            "\n\n\nMASTER-URL=x\n",
            4,
            "invalid variable name 'MASTER-URL'",
        ),
    ] {
        let file = write(dir.path(), "lava-slave", text);
        let error = slave_args(std::slice::from_ref(&file)).unwrap_err();
        assert!(
            matches!(&error, ServiceConfigError::Syntax { line: l, .. } if *l == line),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("{}:{line}: ", file.display())),
            "{message}"
        );
        assert!(message.contains(why), "{message}");
        // the daemon refuses to start with that one line
        let out = run(
            &bin("lava-slave"),
            &["--config-file", file.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("lava-slave: error: {message}\n")
        );
    }
}

#[test]
fn sample_files_parse_and_document_every_variable() {
    let config = workspace().join("share/config");
    for (service, path, defaults) in [
        (Service::Slave, "lava-dispatcher/lava-slave", SLAVE_DEFAULTS),
        (Service::Master, "lava-server/lava-master", MASTER_DEFAULTS),
        (Service::Http, "lava-server/lava-server-http", HTTP_DEFAULTS),
    ] {
        let file = config.join(path);
        let text = std::fs::read_to_string(&file).unwrap();
        // as shipped: all commented, the defaults
        let outcome = service_config::service_args(service, std::slice::from_ref(&file)).unwrap();
        assert_eq!(outcome.args, words(defaults), "{path}");
        assert!(outcome.ignored.is_empty(), "{path}");
        // uncommented, every example is a setting the daemon uses
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains('=') && rest.starts_with(char::is_uppercase) => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "uncommented", &uncommented);
        let outcome = service_config::service_args(service, &[file]).unwrap();
        assert_ne!(
            outcome.args,
            words(defaults),
            "{path}: no example uncommented"
        );
        let unknown: Vec<_> = outcome
            .ignored
            .iter()
            .filter(|i| i.reason.is_none())
            .collect();
        assert!(unknown.is_empty(), "{path}: {unknown:?}");
        for variable in service.variables() {
            assert!(
                text.contains(&format!("# {variable}=")),
                "{path} does not document {variable}"
            );
        }
    }
    let conf = config.join("lava-coordinator/lava-coordinator.conf");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(conf).unwrap()).unwrap();
    assert_eq!(json["port"], 3079);
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_remove("LAVA_DATABASE_URL")
        .env_remove("LAVA_HTTP_BIND")
        .output()
        .unwrap()
}

/// `--print-args` through the real binaries: the file's arguments, then
/// the command line's, and clap accepts the result.
#[test]
fn print_args_of_the_daemons() {
    let dir = tempfile::tempdir().unwrap();
    let slave = write(dir.path(), "lava-slave", SLAVE_ALL_SET);
    let missing = dir.path().join("missing");
    let out = run(
        &bin("lava-slave"),
        &[
            "--config-file",
            missing.to_str().unwrap(),
            "--config-file",
            slave.to_str().unwrap(),
            "--print-args",
            "--hostname",
            "other",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let expected = format!(
        "{} {} --hostname other\n",
        bin("lava-slave").display(),
        slave_args(std::slice::from_ref(&slave)).unwrap().join(" ")
    );
    assert_eq!(printed, expected);

    let master = write(dir.path(), "lava-master", MASTER_ALL_SET);
    let out = run(
        &bin("lava-master"),
        &[
            "--config-file",
            master.to_str().unwrap(),
            "--print-args",
            "--level",
            "INFO",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let quoted: Vec<String> = master_args(std::slice::from_ref(&master))
        .unwrap()
        .iter()
        .map(|a| service_config::shell_quote(a))
        .collect();
    assert_eq!(
        printed,
        format!(
            "{} {} --level INFO\n",
            bin("lava-master").display(),
            quoted.join(" ")
        )
    );
    assert!(printed.contains("'tcp://[::]:5556'"), "{printed}");

    let http = write(
        dir.path(),
        "lava-server-http",
        "BIND=\"--bind 0.0.0.0:8000\"\nLOGLEVEL=DEBUG\nLOG_FILE=\"--log-file /tmp/x.log\"\n",
    );
    let out = run(
        &bin("lava-server"),
        &[
            "serve",
            "--config-file",
            http.to_str().unwrap(),
            "--print-args",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "{} serve {}\n",
            bin("lava-server").display(),
            http_args(&[http]).unwrap().join(" ")
        )
    );
    assert_eq!(
        http_args(&[dir.path().join("lava-server-http")]).unwrap(),
        words("--level DEBUG --bind 0.0.0.0:8000 --log-file /tmp/x.log")
    );

    // an option the file sets once more on the command line: the last wins
    // and clap takes it (no "cannot be used multiple times")
    let out = run(
        &bin("lava-master"),
        &[
            "--config-file",
            master.to_str().unwrap(),
            "--master-socket",
            "tcp://*:6000",
            "--print-args",
        ],
    );
    assert!(out.status.success(), "{out:?}");
}

/// A worker configured by its file alone connects to a master, and the
/// command line overrides the file (the log file here).
#[test]
fn a_worker_runs_from_its_config_file() {
    let mut lab = Lab::new(false).unwrap();
    lab.start_master();
    let log = lab.path("from-file.log");
    let file = write(
        lab.dir.path(),
        "lava-slave",
        &format!(
            "# written as an admin would\nMASTER_URL=\"{}\"\nLOGGER_URL=\"{}\"\n\
             HOSTNAME=\"--hostname worker1\"\nLOGLEVEL=\"INFO\"\n\
             LOG_FILE=\"--log-file /nonexistent/dir/lava-slave.log\"\nEVENT_URL=ignored\n",
            lab.control, lab.logs
        ),
    );
    let child = Command::new(bin("lava-slave"))
        .arg("--config-file")
        .arg(lab.path("no-such-default"))
        .arg("--config-file")
        .arg(&file)
        .arg("--slave-dir")
        .arg(lab.path("slave"))
        .arg("--dispatcher-tmp")
        .arg(lab.path("dispatcher-tmp"))
        .arg("--lava-run")
        .arg(bin("fake-lava-run"))
        .arg("--log-file")
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _slave = Daemon(child);
    wait_for("the worker to connect", DEADLINE, || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("established")
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!("Configuration read from {}", file.display())),
        "{text}"
    );
    assert!(
        text.contains("EVENT_URL is not a lava-slave setting"),
        "{text}"
    );
}

/// `systemd-analyze verify` on our units, with their programs pointed at
/// the binaries just built (verify insists they exist).
#[test]
fn systemd_units_verify() {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is missing in CI"
        );
        eprintln!("skipping: systemd-analyze is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let built = bin("lava-master").parent().unwrap().display().to_string();
    let mut units = Vec::new();
    for name in [
        "lava-master.service",
        "lava-slave.service",
        "lava-server-http.service",
        "lava-coordinator.service",
    ] {
        let text = std::fs::read_to_string(workspace().join("share/systemd").join(name)).unwrap();
        assert!(text.contains("ExecStart=/usr/bin/"), "{name}");
        if name != "lava-coordinator.service" {
            assert!(text.contains("--config-file /etc/default/"), "{name}");
        }
        let local = text.replace("ExecStart=/usr/bin/", &format!("ExecStart={built}/"));
        units.push(write(dir.path(), name, &local));
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    // unknown keys and bad values are only warnings there: refuse them too
    assert!(stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
    // the worker's unit leaves running jobs alone; the server units drop root
    let slave = std::fs::read_to_string(&units[1]).unwrap();
    assert!(slave.contains("KillMode=process"));
    for unit in [&units[0], &units[2]] {
        assert!(std::fs::read_to_string(unit)
            .unwrap()
            .contains("User=lavaserver"));
    }
}
