//! The Debian packages `.ci/run` builds with cargo-deb (README.md,
//! "Installing from packages"). Each `.deb` in `LAVA_DEB_DIR` is unpacked
//! with `dpkg-deb` into one scratch root, as installing them all on one
//! machine would, and checked: its exact file list, owners and modes, its
//! conffiles and maintainer scripts, that each unit's program is in the
//! tree, that the logrotate rules rotate the files the daemons write and
//! signal units the package installs, that the maintainer scripts create
//! the directories the daemons default to, and that the sample
//! configuration files parse and give the packaged daemons the command
//! lines the units run. Without `LAVA_DEB_DIR` the test says it skips; in
//! CI (`CI=true`) that is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use lava_bins::service_config;

/// One entry of `dpkg-deb -c`.
#[derive(Debug)]
struct Entry {
    mode: u32,
    directory: bool,
    owner: String,
}

/// A package unpacked into the shared root.
struct Package {
    name: &'static str,
    deb: PathBuf,
    /// The control archive (`dpkg-deb -e`).
    control: PathBuf,
    /// Path (without the leading "./") to entry.
    entries: BTreeMap<String, Entry>,
}

impl Package {
    fn files(&self) -> BTreeSet<String> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.directory)
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn script(&self, name: &str) -> String {
        let path = self.control.join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: no {name} ({e})", self.name))
    }

    fn field(&self, name: &str) -> String {
        let out = run(Command::new("dpkg-deb").arg("-f").arg(&self.deb).arg(name));
        out.trim().to_string()
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `-rwxr-xr-x` to 0o755 (and whether it is a directory).
fn parse_mode(perms: &str) -> (u32, bool) {
    let bits = perms.as_bytes();
    let mut mode = 0;
    for (i, bit) in bits[1..10].iter().enumerate() {
        if *bit != b'-' {
            mode |= 1 << (8 - i);
        }
    }
    (mode, bits[0] == b'd')
}

fn listing(deb: &Path) -> BTreeMap<String, Entry> {
    let text = run(Command::new("dpkg-deb").arg("-c").arg(deb));
    let mut entries = BTreeMap::new();
    for line in text.lines() {
        // perms owner size date time path
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(
            fields.len() >= 6,
            "{}: odd listing line {line:?}",
            deb.display()
        );
        let (mode, directory) = parse_mode(fields[0]);
        let path = fields[5].trim_start_matches("./").trim_end_matches('/');
        if path.is_empty() {
            continue;
        }
        entries.insert(
            path.to_string(),
            Entry {
                mode,
                directory,
                owner: fields[1].to_string(),
            },
        );
    }
    entries
}

/// The `.deb` of `name` in `dir`: the newest `name_*.deb`.
fn find_deb(dir: &Path, name: &str) -> PathBuf {
    let prefix = format!("{name}_");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("LAVA_DEB_DIR {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let file = p.file_name().unwrap().to_string_lossy();
            file.starts_with(&prefix) && file.ends_with(".deb")
        })
        .collect();
    debs.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    debs.pop().unwrap_or_else(|| {
        panic!(
            "no {name}_*.deb in LAVA_DEB_DIR {} (build it as .ci/run does)",
            dir.display()
        )
    })
}

fn deb_dir() -> Option<PathBuf> {
    match std::env::var_os("LAVA_DEB_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but LAVA_DEB_DIR is not set: .ci/run builds the packages and sets it")
        }
        None => {
            eprintln!(
                "skipping the package checks: LAVA_DEB_DIR is not set (build the .debs with \
                 `cargo deb -p lava-bins --variant NAME` as .ci/run does and point it at them)"
            );
            None
        }
    }
}

/// The names of the `*.jinja2` files of a `share/` directory.
fn share_templates(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("share").join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jinja2"))
        .collect();
    names.sort();
    names
}

/// Every regular file each package must hold, and where it comes from in
/// the repository (`None`: a binary or a generated file).
fn expected_files(name: &str) -> BTreeMap<String, Option<PathBuf>> {
    let share = |p: &str| Some(repo().join("share").join(p));
    let mut files: BTreeMap<String, Option<PathBuf>> = BTreeMap::new();
    let mut add = |dest: String, source: Option<PathBuf>| {
        files.insert(dest, source);
    };
    add(format!("usr/share/doc/{name}/copyright"), None);
    match name {
        "lava-server" => {
            for bin in ["lava-master", "lava-server"] {
                add(format!("usr/bin/{bin}"), None);
            }
            for config in ["lava-master", "lava-server-http"] {
                add(
                    format!("etc/lava-server/{config}"),
                    share(&format!("config/lava-server/{config}")),
                );
            }
            for unit in ["lava-master", "lava-server-http"] {
                add(
                    format!("usr/lib/systemd/system/{unit}.service"),
                    share(&format!("systemd/{unit}.service")),
                );
                add(
                    format!("etc/logrotate.d/{unit}-log"),
                    share(&format!("logrotate/{unit}-log")),
                );
            }
            add(
                "usr/share/doc/lava-server/operations.md".into(),
                Some(repo().join("docs/operations.md")),
            );
            for template in share_templates("device-types") {
                add(
                    format!("etc/lava-server/dispatcher-config/device-types/{template}"),
                    share(&format!("device-types/{template}")),
                );
            }
            for device in share_templates("devices") {
                add(
                    format!("usr/share/lava-server/devices/{device}"),
                    share(&format!("devices/{device}")),
                );
            }
        }
        "lava-dispatcher" => {
            for bin in ["lava-slave", "lava-run", "lava-create-certificate"] {
                add(format!("usr/bin/{bin}"), None);
            }
            add(
                "etc/lava-dispatcher/lava-slave".into(),
                share("config/lava-dispatcher/lava-slave"),
            );
            add(
                "usr/lib/systemd/system/lava-slave.service".into(),
                share("systemd/lava-slave.service"),
            );
            add(
                "etc/logrotate.d/lava-slave-log".into(),
                share("logrotate/lava-slave-log"),
            );
            add(
                "usr/share/doc/lava-dispatcher/operations.md".into(),
                Some(repo().join("docs/operations.md")),
            );
        }
        "lava-coordinator" => {
            add("usr/bin/lava-coordinator".into(), None);
            add(
                "etc/lava-coordinator/lava-coordinator.conf".into(),
                share("config/lava-coordinator/lava-coordinator.conf"),
            );
            add(
                "usr/lib/systemd/system/lava-coordinator.service".into(),
                share("systemd/lava-coordinator.service"),
            );
            add(
                "etc/logrotate.d/lava-coordinator-log".into(),
                share("logrotate/lava-coordinator-log"),
            );
            add(
                "usr/share/doc/lava-coordinator/coordinator.md".into(),
                Some(repo().join("docs/coordinator.md")),
            );
        }
        other => panic!("unknown package {other}"),
    }
    files
}

/// A daemon whose sample settings the test checks: its program (and
/// subcommand), its settings file, the argument list `service_config`
/// makes of it, and the logrotate rule of its log.
type Daemon = (
    &'static str,
    &'static [&'static str],
    PathBuf,
    fn(&[PathBuf]) -> Result<Vec<String>, service_config::ServiceConfigError>,
    &'static str,
);

/// `ExecStart=`'s words (systemd's prefixes `-@:+!` removed from the
/// program).
fn exec_start(unit: &str) -> Vec<String> {
    let line = unit
        .lines()
        .find_map(|l| l.trim().strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart= line");
    let mut words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    words[0] = words[0]
        .trim_start_matches(['-', '@', ':', '+', '!'])
        .to_string();
    words
}

/// A logrotate rule: the log file it rotates and the units its
/// `postrotate` signals.
fn logrotate_rule(text: &str) -> (String, Vec<String>) {
    let path = text
        .lines()
        .map(str::trim)
        .find(|l| !l.starts_with('#') && l.ends_with('{'))
        .expect("a rule block")
        .trim_end_matches('{')
        .trim()
        .to_string();
    let units = text
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("systemctl kill -s HUP --kill-who=main ")
        })
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .collect();
    (path, units)
}

/// The `[default: X]` values of a program's `--help`.
fn help_defaults(program: &Path, args: &[&str]) -> Vec<String> {
    let help = run(Command::new(program).args(args).arg("--help"));
    help.split("[default: ")
        .skip(1)
        .map(|rest| rest.split(']').next().unwrap().to_string())
        .collect()
}

/// The value after `option` in an argument list.
fn option_value<'a>(args: &'a [String], option: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == option)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

#[test]
fn the_packages_install_what_the_readme_says_where_it_says() {
    let Some(dir) = deb_dir() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("root");
    std::fs::create_dir(&root).unwrap();

    let mut packages = Vec::new();
    for name in ["lava-server", "lava-dispatcher", "lava-coordinator"] {
        let deb = find_deb(&dir, name);
        let control = scratch.path().join(format!("{name}.control"));
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
        run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
        let entries = listing(&deb);
        packages.push(Package {
            name,
            deb,
            control,
            entries,
        });
    }

    // No file belongs to two packages: dpkg would refuse to install both.
    let mut owner_of: BTreeMap<String, &str> = BTreeMap::new();
    for package in &packages {
        for file in package.files() {
            if let Some(other) = owner_of.insert(file.clone(), package.name) {
                panic!("{file} is in both {other} and {}", package.name);
            }
        }
    }

    for package in &packages {
        let name = package.name;
        assert_eq!(package.field("Package"), name);
        let depends = package.field("Depends");
        assert!(depends.contains("libc6"), "{name}: Depends: {depends}");

        // The exact file list; files from the repository are copied
        // unchanged.
        let expected = expected_files(name);
        let expected_paths: BTreeSet<String> = expected.keys().cloned().collect();
        assert_eq!(
            package.files(),
            expected_paths,
            "{name}: the packaged files differ from the expected list"
        );
        for (dest, source) in &expected {
            if let Some(source) = source {
                assert!(
                    std::fs::read(root.join(dest)).unwrap() == std::fs::read(source).unwrap(),
                    "{name}: /{dest} differs from {} (rebuild the package)",
                    source.display()
                );
            }
        }

        // Owners and modes: all root's; programs 0755, directories 0755,
        // every other file 0644.
        for (path, entry) in &package.entries {
            assert_eq!(entry.owner, "0/0", "{name}: /{path} is not root's");
            let want = if entry.directory || path.starts_with("usr/bin/") {
                0o755
            } else {
                0o644
            };
            assert_eq!(
                entry.mode, want,
                "{name}: /{path} has mode {:o}",
                entry.mode
            );
        }
        // Programs are stripped: no symbol table, no debug information
        // (binutils' readelf, which the build's toolchain brings).
        for path in package.files().iter().filter(|p| p.starts_with("usr/bin/")) {
            let sections = run(Command::new("readelf")
                .arg("-S")
                .arg("-W")
                .arg(root.join(path)));
            for section in [" .symtab ", " .debug_info "] {
                assert!(
                    !sections.contains(section),
                    "{name}: /{path} is not stripped (it has{section}section)"
                );
            }
        }

        // Every file under /etc is a conffile, and nothing else is.
        let conffiles: BTreeSet<String> =
            std::fs::read_to_string(package.control.join("conffiles"))
                .unwrap()
                .lines()
                .map(|l| l.trim_start_matches('/').to_string())
                .collect();
        let etc: BTreeSet<String> = package
            .files()
            .into_iter()
            .filter(|p| p.starts_with("etc/"))
            .collect();
        assert_eq!(conffiles, etc, "{name}: conffiles");

        // Maintainer scripts: executable, valid shell, failing on errors.
        for script in ["postinst", "prerm", "postrm"] {
            let path = package.control.join(script);
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{name}: no {script}: {e}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755, "{name}: {script} has mode {mode:o}");
            run(Command::new("sh").arg("-n").arg(&path));
            assert!(
                package.script(script).contains("set -e"),
                "{name}: {script} does not stop on errors"
            );
        }

        // Units: the program each runs is a program of this package, its
        // configuration files (other than /etc/default's) are conffiles of
        // this package, the postinst enables and starts it, the prerm
        // stops it, and a user it runs as is created by the postinst.
        let units: Vec<&String> = expected
            .keys()
            .filter(|p| p.starts_with("usr/lib/systemd/system/"))
            .collect();
        assert!(!units.is_empty(), "{name}: no unit");
        for unit_path in units {
            let unit_name = unit_path.rsplit('/').next().unwrap();
            let unit = std::fs::read_to_string(root.join(unit_path)).unwrap();
            let words = exec_start(&unit);
            let program = words[0].trim_start_matches('/');
            assert!(
                package.files().contains(program),
                "{name}: {unit_name} runs /{program}, which the package does not install"
            );
            let mode = std::fs::metadata(root.join(program))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111, "{name}: /{program} is not executable");
            for pair in words.windows(2).filter(|w| w[0] == "--config-file") {
                let config = pair[1].trim_start_matches('/');
                assert!(
                    config.starts_with("etc/default/") || conffiles.contains(config),
                    "{name}: {unit_name} reads /{config}, which is not a conffile of the package"
                );
            }
            let postinst = package.script("postinst");
            assert!(
                postinst.contains(&format!("deb-systemd-helper enable {unit_name}"))
                    && postinst.contains(&format!("deb-systemd-invoke $_dh_action {unit_name}")),
                "{name}: the postinst does not enable and start {unit_name}"
            );
            assert!(
                package
                    .script("prerm")
                    .contains(&format!("deb-systemd-invoke stop {unit_name}")),
                "{name}: the prerm does not stop {unit_name}"
            );
            for doc in unit
                .lines()
                .filter_map(|l| l.trim().strip_prefix("Documentation="))
                .flat_map(str::split_whitespace)
                .filter_map(|d| d.strip_prefix("file:///"))
            {
                assert!(
                    package.files().contains(doc),
                    "{name}: {unit_name}'s documentation /{doc} is not in the package"
                );
            }
            if let Some(user) = unit.lines().find_map(|l| l.trim().strip_prefix("User=")) {
                assert!(
                    postinst.contains("adduser") && postinst.contains(&format!("={user}\n")),
                    "{name}: {unit_name} runs as {user}, which the postinst does not create"
                );
            }
        }

        // Logrotate rules rotate a file under /var/log and signal a unit
        // of the same package.
        for rule_path in expected
            .keys()
            .filter(|p| p.starts_with("etc/logrotate.d/"))
        {
            let (log, units) =
                logrotate_rule(&std::fs::read_to_string(root.join(rule_path)).unwrap());
            assert!(
                log.starts_with("/var/log/"),
                "{name}: /{rule_path} rotates {log}"
            );
            assert!(!units.is_empty(), "{name}: /{rule_path} signals no daemon");
            for unit in units {
                assert!(
                    package
                        .files()
                        .contains(&format!("usr/lib/systemd/system/{unit}")),
                    "{name}: /{rule_path} signals {unit}, which the package does not install"
                );
            }
        }
    }

    let package = |name: &str| packages.iter().find(|p| p.name == name).unwrap();
    let rule_log = |rule: &str| {
        logrotate_rule(&std::fs::read_to_string(root.join("etc/logrotate.d").join(rule)).unwrap()).0
    };
    let etc = |p: &str| root.join("etc").join(p);

    // The sample configuration files parse; the arguments they give are
    // those the packaged daemons print for them (`--print-args`), and the
    // log file they write is the one logrotate rotates.
    let daemons: [Daemon; 3] = [
        (
            "lava-master",
            &[],
            etc("lava-server/lava-master"),
            service_config::master_args,
            "lava-master-log",
        ),
        (
            "lava-server",
            &["serve"],
            etc("lava-server/lava-server-http"),
            service_config::http_args,
            "lava-server-http-log",
        ),
        (
            "lava-slave",
            &[],
            etc("lava-dispatcher/lava-slave"),
            service_config::slave_args,
            "lava-slave-log",
        ),
    ];
    for (program, subcommand, config, args_of, rule) in daemons {
        service_config::parse_env_file(&config)
            .unwrap_or_else(|e| panic!("the sample {} does not parse: {e}", config.display()));
        let args = args_of(std::slice::from_ref(&config))
            .unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        assert_eq!(
            option_value(&args, "--log-file"),
            Some(rule_log(rule).as_str()),
            "{program} with the sample {} writes a log that /etc/logrotate.d/{rule} does not rotate",
            config.display()
        );
        let printed = run(Command::new(root.join("usr/bin").join(program))
            .args(subcommand)
            .arg("--config-file")
            .arg(&config)
            .arg("--print-args"));
        for arg in &args {
            assert!(
                printed.contains(arg.as_str()),
                "{program} --print-args with the sample {} lacks {arg:?}: {printed}",
                config.display()
            );
        }
    }
    // The coordinator's unit writes the log its rule rotates.
    let coordinator_unit =
        std::fs::read_to_string(root.join("usr/lib/systemd/system/lava-coordinator.service"))
            .unwrap();
    let coordinator_log = rule_log("lava-coordinator-log");
    assert!(
        coordinator_unit.contains(&format!("LOGFILE={coordinator_log}")),
        "lava-coordinator.service does not log to {coordinator_log}"
    );
    let conf: serde_json::Value = serde_json::from_slice(
        &std::fs::read(etc("lava-coordinator/lava-coordinator.conf")).unwrap(),
    )
    .expect("the sample lava-coordinator.conf is JSON");
    assert!(conf.get("port").is_some(), "lava-coordinator.conf: {conf}");

    // The maintainer scripts create the directories the daemons default
    // to (or, for a file such as the SQLite database, its directory).
    let creates = |package: &Package, path: &str| {
        let postinst = package.script("postinst");
        let dir = Path::new(path);
        postinst.contains(&format!(" {path}\n"))
            || dir
                .parent()
                .is_some_and(|parent| postinst.contains(&format!(" {}\n", parent.display())))
    };
    let server_bin = root.join("usr/bin");
    let mut server_defaults = help_defaults(&server_bin.join("lava-master"), &[]);
    server_defaults.extend(help_defaults(&server_bin.join("lava-server"), &["serve"]));
    let mut checked = 0;
    for default in server_defaults {
        let path = default.trim_start_matches("sqlite://");
        if path.starts_with("/var/lib/lava-server") || path.starts_with("/var/log/lava-server") {
            assert!(
                creates(package("lava-server"), path),
                "the lava-server postinst does not create {path} (a default of lava-master or lava-server serve)"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "lava-master's defaults under /var/lib/lava-server: {checked}"
    );
    let mut checked = 0;
    for default in help_defaults(&server_bin.join("lava-slave"), &[]) {
        if default.starts_with("/var/lib/lava/") || default.starts_with("/var/log/lava-dispatcher")
        {
            assert!(
                creates(package("lava-dispatcher"), &default),
                "the lava-dispatcher postinst does not create {default} (a default of lava-slave)"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "lava-slave's defaults under /var/lib/lava: {checked}"
    );

    // The certificates: root's alone (0700) for a worker; opened to the
    // server daemons' group when lava-server is installed, since
    // lava-master (user lavaserver) reads its secret key there.
    let certs = "/etc/lava-dispatcher/certificates.d";
    assert!(
        package("lava-dispatcher")
            .script("postinst")
            .contains(&format!("make_dir 0700 {certs}\n")),
        "the lava-dispatcher postinst does not create {certs} with mode 0700"
    );
    let server_postinst = package("lava-server").script("postinst");
    assert!(
        server_postinst.contains(&format!("CERTS={certs}\n"))
            && server_postinst.contains("make_dir 0750 root \"$LAVA_USER\" \"$CERTS\""),
        "the lava-server postinst does not open {certs} to group lavaserver"
    );
    assert!(
        package("lava-server").field("Depends").contains("adduser"),
        "lava-server creates its user with adduser"
    );
}
