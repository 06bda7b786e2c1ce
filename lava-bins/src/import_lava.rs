//! Reading a LAVA instance's `dispatcher-config/` folder for `lava-server
//! manage import-lava` (docs/operations.md "Importing a LAVA instance"):
//! every device dictionary and health check is read and validated as
//! `devices dictionary set` and `device-types health-check set` validate
//! them, before anything is written. [`prepare`] returns the plan for
//! [`lava_scheduler::SqlStore::import_lab`] (which applies it in one
//! transaction) and the files it refused, each with its path and why.
//!
//! The layout, as LAVA 2020.01 installs it in `/etc/lava-server/`:
//!
//! ```text
//! dispatcher-config/
//!   devices/HOSTNAME.jinja2        device dictionaries (the device's name is the file's)
//!   device-types/TYPE.jinja2       device-type templates
//!   health-checks/TYPE.yaml|.yml   health-check jobs, named after the template a device extends
//! health-checks/TYPE.yaml          (beside dispatcher-config: read too when present)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lava_devices::{DeviceDictionary, TemplateSet};
use lava_proto::yaml::{self, Limits, Value};
use lava_scheduler::store::{ImportDevice, ImportHealthCheck, ImportPlan};

/// Why the import cannot start at all (individual files are refused
/// instead, see [`Refusal`]).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The folder is not a LAVA `dispatcher-config` layout.
    #[error("{}: {reason}", path.display())]
    Layout {
        /// The folder.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A folder could not be listed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The worker map is unreadable or malformed.
    #[error("worker map {}: {reason}", path.display())]
    WorkerMap {
        /// The map file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Which worker each device goes to.
#[derive(Debug, Clone)]
pub enum Workers {
    /// Every device to this worker (`--worker NAME`).
    All(String),
    /// Device → worker, read by [`read_worker_map`] from this file
    /// (`--worker-map FILE`).
    Map(PathBuf, BTreeMap<String, String>),
}

/// A file that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The file.
    pub path: PathBuf,
    /// Why, e.g. `line 3: the tag is not closed ('%}' is missing)`.
    pub reason: String,
}

/// The validated import: what to write, and what was refused or noted.
#[derive(Debug, Default)]
pub struct Prepared {
    /// For [`lava_scheduler::SqlStore::import_lab`].
    pub plan: ImportPlan,
    /// The file of each device of the plan, in its order.
    pub device_files: Vec<PathBuf>,
    /// The file of each health check of the plan, in its order.
    pub health_check_files: Vec<PathBuf>,
    /// Refused files, in the order they were read.
    pub refused: Vec<Refusal>,
    /// Warnings about files that are imported or ignored (not errors).
    pub notes: Vec<String>,
}

/// Read a worker map: a YAML mapping of worker names to lists of device
/// names, e.g. `worker1: [bbb-01, bbb-02]`. Returns device → worker; a
/// device listed twice is an error.
pub fn read_worker_map(path: &Path) -> Result<BTreeMap<String, String>, ImportError> {
    let bad = |reason: String| ImportError::WorkerMap {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let document = yaml::load_bytes(&bytes, &Limits::default()).map_err(|e| bad(e.to_string()))?;
    let mapping = match document.value {
        Value::Mapping(m) => m,
        Value::Null => return Ok(BTreeMap::new()),
        other => {
            return Err(bad(format!(
                "expected a mapping of worker names to lists of devices, found a {}",
                other.type_name()
            )))
        }
    };
    let mut map = BTreeMap::new();
    for (key, devices) in mapping.iter() {
        let worker = key.as_str().ok_or_else(|| {
            bad(format!(
                "a worker name must be a string, not a {}",
                key.type_name()
            ))
        })?;
        let list = match devices {
            Value::Null => &[][..],
            Value::Sequence(items) => items.as_slice(),
            other => {
                return Err(bad(format!(
                    "worker {worker}: expected a list of device names, found a {}",
                    other.type_name()
                )))
            }
        };
        for device in list {
            let device = device.as_str().ok_or_else(|| {
                bad(format!(
                    "worker {worker}: a device name must be a string, not a {}",
                    device.type_name()
                ))
            })?;
            if let Some(first) = map.insert(device.to_string(), worker.to_string()) {
                return Err(bad(format!(
                    "device {device} is listed under worker {first} and worker {worker}"
                )));
            }
        }
    }
    Ok(map)
}

/// The folders health checks are read from, in precedence order: LAVA's
/// `DIR/health-checks`, then `health-checks` beside `DIR`; only those
/// that exist.
pub fn health_check_dirs(dispatcher_config: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let inside = dispatcher_config.join("health-checks");
    let beside = dispatcher_config
        .canonicalize()
        .ok()
        .and_then(|d| d.parent().map(|p| p.join("health-checks")));
    for dir in std::iter::once(inside).chain(beside) {
        let same = dirs
            .iter()
            .any(|d| matches!((d.canonicalize(), dir.canonicalize()), (Ok(a), Ok(b)) if a == b));
        if dir.is_dir() && !same {
            dirs.push(dir);
        }
    }
    dirs
}

/// Read and validate everything under `dispatcher_config`. Dictionaries are
/// rendered with `DIR/device-types` first, then `device_types` (give the
/// master the same folders); health checks are validated as job
/// definitions. Nothing is written.
pub fn prepare(
    dispatcher_config: &Path,
    workers: &Workers,
    device_types: &[PathBuf],
) -> Result<Prepared, ImportError> {
    if !dispatcher_config.is_dir() {
        return Err(ImportError::Layout {
            path: dispatcher_config.to_path_buf(),
            reason: "not a folder".into(),
        });
    }
    let devices_dir = dispatcher_config.join("devices");
    if !devices_dir.is_dir() {
        return Err(ImportError::Layout {
            path: dispatcher_config.to_path_buf(),
            reason: "no devices/ folder: is this a LAVA dispatcher-config folder?".into(),
        });
    }
    let mut search_path = Vec::new();
    let own_types = dispatcher_config.join("device-types");
    if own_types.is_dir() {
        search_path.push(own_types);
    }
    search_path.extend(device_types.iter().cloned());
    let templates = TemplateSet::new(&search_path);

    let mut out = Prepared::default();
    let mut seen = Vec::new();
    for path in files(&devices_dir, &["jinja2"])? {
        let hostname = stem(&path);
        seen.push(hostname.clone());
        match read_device(&templates, workers, &path, &hostname, &mut out.notes) {
            Ok(device) => {
                out.plan.devices.push(device);
                out.device_files.push(path);
            }
            Err(reason) => out.refused.push(Refusal { path, reason }),
        }
    }
    if let Workers::Map(map_path, map) = workers {
        for device in map.keys().filter(|d| !seen.contains(d)) {
            out.notes.push(format!(
                "worker map {} names device {device}, which has no dictionary in {}",
                map_path.display(),
                devices_dir.display()
            ));
        }
    }

    // Health checks: the first folder wins for a type, `.yaml` before
    // `.yml` (as LAVA looks them up).
    let mut chosen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in health_check_dirs(dispatcher_config) {
        for path in files(&dir, &["yaml", "yml"])? {
            let device_type = stem(&path);
            match chosen.get(&device_type) {
                Some(first) => out.notes.push(format!(
                    "ignored {}: {} is the health check of {device_type} (as LAVA reads it)",
                    path.display(),
                    first.display()
                )),
                None => {
                    chosen.insert(device_type, path);
                }
            }
        }
    }
    for (device_type, path) in chosen {
        match read_health_check(&path) {
            Ok(definition) => {
                out.plan.health_checks.push(ImportHealthCheck {
                    device_type,
                    definition,
                });
                out.health_check_files.push(path);
            }
            Err(reason) => out.refused.push(Refusal { path, reason }),
        }
    }
    Ok(out)
}

fn read_device(
    templates: &TemplateSet,
    workers: &Workers,
    path: &Path,
    hostname: &str,
    notes: &mut Vec<String>,
) -> Result<ImportDevice, String> {
    let dictionary = read_text(path)?;
    let parsed = DeviceDictionary::parse(&dictionary).map_err(|e| e.to_string())?;
    for warning in parsed.warnings() {
        notes.push(format!(
            "warning {}: line {}: {}",
            path.display(),
            warning.line,
            warning.message
        ));
    }
    let worker = match workers {
        Workers::All(worker) => worker.clone(),
        Workers::Map(map_path, map) => map.get(hostname).cloned().ok_or_else(|| {
            format!(
                "device {hostname} is not in the worker map {}",
                map_path.display()
            )
        })?,
    };
    templates
        .check_device(hostname, Some(&dictionary))
        .map_err(|e| e.to_string())?;
    Ok(ImportDevice {
        hostname: hostname.to_string(),
        device_type: parsed.device_type().to_string(),
        worker,
        dictionary,
    })
}

fn read_health_check(path: &Path) -> Result<String, String> {
    let text = read_text(path)?;
    let report = lava_proto::job::validate(&text);
    match report.first_error() {
        Some(issue) => Err(format!("invalid health check: {issue}")),
        None => Ok(text),
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    if text.contains('\0') {
        return Err("contains a NUL byte (not a text file)".into());
    }
    Ok(text)
}

/// The regular files of `dir` with one of `extensions`, sorted by name.
fn files(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, ImportError> {
    let read_error = |source| ImportError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e));
        if wanted && path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
