//! `lava-server manage import-lava` against LAVA's own `dispatcher-config`
//! layout, built in a temporary folder from the LAVA corpus
//! (`$LAVA_CORPUS_DIR`, else `../shared/lava-corpus`; read, never copied
//! into the repository), on SQLite and PostgreSQL, through the real binary:
//! every good dictionary is stored byte for byte and renders exactly as
//! LAVA renders the original file; the broken dictionary and the broken
//! health check are reported by path and nothing of them reaches the
//! database; health checks are read from both layouts; a second run
//! changes nothing; a dry run writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lava_devices::{DeviceDictionary, TemplateSet};
use lava_proto::yaml::Mapping;
use lava_scheduler::model::{DeviceHealth, WorkerHealth};
use lava_scheduler::store::DeviceFilter;

mod common;

use common::cli::CliStore as Db;

fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("LAVA_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"),
    };
    if dir.join("devices").is_dir() && dir.join("expected").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the LAVA corpus is missing at {} and CI is set",
        dir.display()
    );
    println!(
        "skipping: LAVA corpus not found at {} (set LAVA_CORPUS_DIR)",
        dir.display()
    );
    None
}

/// A LAVA instance's folders, as /etc/lava-server holds them.
struct Layout {
    _tmp: tempfile::TempDir,
    /// `.../etc/dispatcher-config`
    config: PathBuf,
    /// Device → its corpus file, for the dictionaries copied.
    devices: BTreeMap<String, PathBuf>,
    /// The devices that render into a valid configuration (the others are
    /// refused by the validation `devices dictionary set` applies).
    good: BTreeSet<String>,
    /// The device left out of the worker map.
    unmapped: String,
    map: PathBuf,
}

const BROKEN_DICTIONARY: &str = "broken-01";
/// A device type that only the broken dictionary uses.
const BROKEN_TYPE: &str = "alpine-db";
/// The type whose health check is broken.
const BROKEN_CHECK_TYPE: &str = "b2260";
/// The device that exists before the import with another type.
const CONFLICT: &str = "bbb-01";

fn layout(corpus: &Path, scratch: &Path) -> Layout {
    let tmp = tempfile::tempdir_in(scratch).unwrap();
    let config = tmp.path().join("etc/dispatcher-config");
    for sub in ["devices", "device-types", "health-checks"] {
        std::fs::create_dir_all(config.join(sub)).unwrap();
    }
    for entry in std::fs::read_dir(corpus.join("device-types")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            config.join("device-types").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    // Every corpus device whose device type is in the corpus.
    let mut devices = BTreeMap::new();
    for entry in std::fs::read_dir(corpus.join("devices")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let dictionary = DeviceDictionary::parse(&text).unwrap();
        assert_ne!(dictionary.device_type(), BROKEN_TYPE);
        if !corpus
            .join("device-types")
            .join(dictionary.extends())
            .exists()
        {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        std::fs::copy(
            &path,
            config.join("devices").join(path.file_name().unwrap()),
        )
        .unwrap();
        devices.insert(name, path);
    }
    assert!(devices.len() > 100, "{} corpus devices", devices.len());
    let templates = TemplateSet::new([config.join("devices"), config.join("device-types")]);
    let good: BTreeSet<String> = devices
        .iter()
        .filter(|(name, path)| {
            let text = std::fs::read_to_string(path).unwrap();
            templates.check_device(name, Some(&text)).is_ok()
        })
        .map(|(name, _)| name.clone())
        .collect();
    assert!(
        devices.len() - good.len() <= 2,
        "most corpus dictionaries are valid"
    );
    std::fs::write(
        config.join("devices").join(format!("{BROKEN_DICTIONARY}.jinja2")),
        format!("{{% extends '{BROKEN_TYPE}.jinja2' %}}\n{{% set connection_command = 'telnet ser2net 7001'\n"),
    )
    .unwrap();

    // Health checks in both layouts: LAVA's own, inside dispatcher-config,
    // and a health-checks/ folder beside it.
    let jobs = corpus.join("jobs");
    let checks = config.join("health-checks");
    std::fs::copy(
        jobs.join("doc-examples/standard-armmp-ramdisk-bbb.yaml"),
        checks.join("beaglebone-black.yaml"),
    )
    .unwrap();
    // No device of this type: skipped.
    std::fs::copy(
        jobs.join("health-checks/rk3399-puma-haikou.yaml"),
        checks.join("rk3399-puma-haikou.yaml"),
    )
    .unwrap();
    std::fs::write(
        checks.join(format!("{BROKEN_CHECK_TYPE}.yaml")),
        "job_name: broken health check\ndevice_type: b2260\nvisibility: public\npriority: medium\ntimeouts:\n  job:\n    minutes: 10\nactions: not a list\n",
    )
    .unwrap();
    let beside = tmp.path().join("etc/health-checks");
    std::fs::create_dir_all(&beside).unwrap();
    std::fs::copy(
        jobs.join("health-checks/juno.yaml"),
        beside.join("juno.yaml"),
    )
    .unwrap();

    // Two workers; one good device is left out of the map.
    let names: Vec<&String> = good.iter().filter(|n| *n != CONFLICT).collect();
    let unmapped = names[names.len() / 2].clone();
    let mut map = String::from("lab-a:\n");
    for (i, name) in devices
        .keys()
        .chain([&BROKEN_DICTIONARY.to_string()])
        .enumerate()
    {
        if i == devices.len() / 2 {
            map.push_str("lab-b:\n");
        }
        if *name == unmapped || name == CONFLICT {
            continue;
        }
        map.push_str(&format!("  - {name}\n"));
    }
    // A worker only the refused device names is not created.
    map.push_str(&format!("lab-c: [{CONFLICT}]\n"));
    let map_path = tmp.path().join("workers.yaml");
    std::fs::write(&map_path, map).unwrap();
    Layout {
        _tmp: tmp,
        config,
        devices,
        good,
        unmapped,
        map: map_path,
    }
}

fn refused_line(stdout: &str, path: &Path) -> String {
    let prefix = format!("refused {}: ", path.display());
    stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line '{prefix}...' in:\n{stdout}"))
        .to_string()
}

fn import_a_lava_instance(db: &Db) {
    let Some(corpus) = corpus() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let lab = layout(&corpus, scratch.path());
    let config = lab.config.display().to_string();
    let map = lab.map.display().to_string();

    // A dry run on an empty database writes nothing.
    let (code, stdout, _) = db.manage(&[
        "import-lava",
        "--dispatcher-config",
        &config,
        "--worker",
        "lab-a",
        "--dry-run",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("dry run: nothing was written"), "{stdout}");
    assert!(stdout.contains("imported device "), "{stdout}");
    let store = db.store();
    assert!(store.devices(&DeviceFilter::default()).unwrap().is_empty());
    assert!(store.device_types().unwrap().is_empty());
    assert!(store.workers(true).unwrap().is_empty());

    // lab-a exists and is active; one device exists already with another type.
    db.ok(&["workers", "add", "lab-a"]);
    db.ok(&["device-types", "add", "other"]);
    db.ok(&[
        "devices",
        "add",
        CONFLICT,
        "--device-type",
        "other",
        "--worker",
        "lab-a",
    ]);

    let args = [
        "import-lava",
        "--dispatcher-config",
        &config,
        "--worker-map",
        &map,
    ];
    let (code, stdout, stderr) = db.manage(&args);
    assert_eq!(code, 1, "files were refused: {stdout}{stderr}");
    assert!(stderr.contains("files refused"), "{stderr}");

    // Each refused file by path, and why.
    let devices_dir = lab.config.join("devices");
    let line = refused_line(
        &stdout,
        &devices_dir.join(format!("{BROKEN_DICTIONARY}.jinja2")),
    );
    assert!(
        line.contains("line 2") && line.contains("not closed"),
        "{line}"
    );
    let line = refused_line(
        &stdout,
        &lab.config
            .join("health-checks")
            .join(format!("{BROKEN_CHECK_TYPE}.yaml")),
    );
    assert!(
        line.contains("invalid health check") && line.contains("actions"),
        "{line}"
    );
    let line = refused_line(
        &stdout,
        &devices_dir.join(format!("{}.jinja2", lab.unmapped)),
    );
    assert!(line.contains("not in the worker map"), "{line}");
    let line = refused_line(&stdout, &devices_dir.join(format!("{CONFLICT}.jinja2")));
    assert!(line.contains("device type other"), "{line}");
    assert!(
        store.worker("lab-c").is_err(),
        "no worker for a refused device"
    );
    for invalid in lab.devices.keys().filter(|d| !lab.good.contains(*d)) {
        refused_line(&stdout, &devices_dir.join(format!("{invalid}.jinja2")));
    }
    let skipped = format!(
        "skipped {}: ",
        lab.config
            .join("health-checks/rk3399-puma-haikou.yaml")
            .display()
    );
    assert!(stdout.contains(&skipped), "{stdout}");

    // The database: every good device but the two refused ones, nothing of
    // the broken files.
    let mut imported: BTreeSet<String> = lab.good.clone();
    imported.remove(&lab.unmapped);
    imported.remove(CONFLICT);
    let stored: BTreeMap<String, _> = store
        .devices(&DeviceFilter {
            include_retired: true,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|d| (d.hostname.clone(), d))
        .collect();
    let mut expected_names = imported.clone();
    expected_names.insert(CONFLICT.to_string());
    assert_eq!(
        stored.keys().cloned().collect::<BTreeSet<_>>(),
        expected_names
    );
    let conflict = &stored[CONFLICT];
    assert_eq!(
        (
            conflict.device_type.as_str(),
            conflict.dictionary.as_deref()
        ),
        ("other", None),
        "the existing device is left as it was"
    );
    let types: BTreeSet<String> = store
        .device_types()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(!types.contains(BROKEN_TYPE), "{types:?}");
    assert!(!types.contains("rk3399-puma-haikou"), "{types:?}");

    // Every stored dictionary is the file, and renders exactly as LAVA
    // renders the original (the corpus's expected output).
    let templates = TemplateSet::new([lab.config.join("device-types")]);
    for name in &imported {
        let device = &stored[name];
        let original = std::fs::read_to_string(&lab.devices[name]).unwrap();
        assert_eq!(
            device.dictionary.as_deref(),
            Some(original.as_str()),
            "{name}"
        );
        let dictionary = DeviceDictionary::parse(&original).unwrap();
        assert_eq!(device.device_type, dictionary.device_type(), "{name}");
        assert!(types.contains(&device.device_type));
        let rendered = templates
            .render_device(name, device.dictionary.as_deref(), &Mapping::new())
            .unwrap();
        let expected =
            std::fs::read_to_string(corpus.join("expected/devices").join(format!("{name}.yaml")))
                .unwrap();
        assert_eq!(rendered, expected, "{name} renders as before");
        assert!(
            stdout.contains(&format!(
                "imported device {name} (type {}, worker {})",
                device.device_type,
                device.worker.as_deref().unwrap()
            )),
            "{name}: {stdout}"
        );
    }

    // Workers: lab-a was there (Active: its new devices need a health check
    // first); lab-b is new and disabled, and so are its devices.
    assert_eq!(store.worker("lab-a").unwrap().health, WorkerHealth::Active);
    assert_eq!(
        store.worker("lab-b").unwrap().health,
        WorkerHealth::Maintenance
    );
    assert!(
        stdout.contains("created worker lab-b (Maintenance"),
        "{stdout}"
    );
    for name in &imported {
        let device = &stored[name];
        let expected = match device.worker.as_deref() {
            Some("lab-a") => DeviceHealth::Unknown,
            Some("lab-b") => DeviceHealth::Maintenance,
            other => panic!("{name} on {other:?}"),
        };
        assert_eq!(device.health, expected, "{name}");
    }
    assert!(stored
        .values()
        .any(|d| d.worker.as_deref() == Some("lab-b")));

    // Health checks: from LAVA's layout and from the folder beside it; the
    // broken one is not stored.
    let health_check = |t: &str| store.device_type(t).unwrap().health_check;
    let jobs = corpus.join("jobs");
    assert_eq!(
        health_check("beaglebone-black"),
        Some(
            std::fs::read_to_string(jobs.join("doc-examples/standard-armmp-ramdisk-bbb.yaml"))
                .unwrap()
        )
    );
    assert_eq!(
        health_check("juno"),
        Some(std::fs::read_to_string(jobs.join("health-checks/juno.yaml")).unwrap())
    );
    assert_eq!(health_check(BROKEN_CHECK_TYPE), None);

    // A second run changes nothing and says so.
    let (code, again, _) = db.manage(&args);
    assert_eq!(code, 1, "the same files are refused: {again}");
    assert!(
        !again.lines().any(|l| l.starts_with("imported ")),
        "{again}"
    );
    assert!(
        again.contains(&format!(
            "0 imported, 0 updated, {} unchanged",
            imported.len() + 2
        )),
        "{again}"
    );

    // A changed dictionary is updated.
    let changed_name = imported.iter().next().unwrap();
    let changed = devices_dir.join(format!("{changed_name}.jinja2"));
    let mut text = std::fs::read_to_string(&changed).unwrap();
    text.push_str("{# moved to rack 2 #}\n");
    std::fs::write(&changed, &text).unwrap();
    let (_, third, _) = db.manage(&args);
    assert!(
        third.contains(&format!("updated device {changed_name} ("))
            && third.contains(": dictionary"),
        "{third}"
    );
    assert_eq!(store.device(changed_name).unwrap().dictionary, Some(text));
}

#[test]
fn import_a_lava_instance_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    import_a_lava_instance(&Db::sqlite_in(dir.path()));
}

#[test]
fn import_a_lava_instance_on_postgres() {
    if let Some(db) = Db::postgres("lava_import") {
        import_a_lava_instance(&db);
    }
}

#[test]
fn a_malformed_worker_map_or_layout_stops_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::sqlite_in(dir.path());
    let config = dir.path().join("dispatcher-config");
    std::fs::create_dir_all(config.join("devices")).unwrap();
    let map = dir.path().join("map.yaml");
    std::fs::write(&map, "lab-a: [d1]\nlab-b: [d1]\n").unwrap();
    let (code, _, stderr) = db.manage(&[
        "import-lava",
        "--dispatcher-config",
        &config.display().to_string(),
        "--worker-map",
        &map.display().to_string(),
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("map.yaml")
            && stderr.contains("device d1 is listed under worker lab-a and worker lab-b"),
        "{stderr}"
    );
    let (code, _, stderr) = db.manage(&[
        "import-lava",
        "--dispatcher-config",
        &dir.path().join("nowhere").display().to_string(),
        "--worker",
        "lab-a",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nowhere: not a folder"), "{stderr}");
    let (code, _, stderr) = db.manage(&["import-lava", "--dispatcher-config", "x"]);
    assert_eq!(code, 2, "--worker or --worker-map is required: {stderr}");
}
