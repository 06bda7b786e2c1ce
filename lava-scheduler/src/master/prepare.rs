//! What the master sends in START, and the device-configuration check the
//! scheduler uses, both built on lava-devices.
//!
//! Rendered configurations are cached by content: the key is the device,
//! the SHA-256 of its dictionary and a fingerprint of the template files
//! (names, sizes and modification times, re-read at most once a second), so
//! a pass never renders an unchanged device twice and an edited template or
//! dictionary is picked up at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lava_devices::{DeviceConfig, TemplateSet};
use lava_proto::control::StartJob;
use lava_proto::yaml::{self, Mapping, Value};
use sha2::{Digest, Sha256};

use crate::model::{Device, Job};
use crate::scheduler::DeviceCheck;

/// A device, the digest of its dictionary, the templates' fingerprint.
type CheckKey = (String, [u8; 32], [u8; 32]);

/// Renders device configurations and checks them, with a content cache.
pub struct Devices {
    templates: TemplateSet,
    fingerprint: Mutex<(Instant, [u8; 32])>,
    checked: Mutex<HashMap<CheckKey, Result<(), String>>>,
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devices")
            .field("search_path", &self.templates.search_path())
            .finish()
    }
}

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A digest of the template files in `dirs` (names, sizes, mtimes).
fn fingerprint(dirs: &[PathBuf]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for dir in dirs {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map(|it| it.filter_map(Result::ok).collect())
            .unwrap_or_default();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            hasher.update(entry.file_name().as_encoded_bytes());
            if let Ok(meta) = entry.metadata() {
                hasher.update(meta.len().to_le_bytes());
                if let Ok(modified) = meta.modified() {
                    let nanos = modified
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0);
                    hasher.update(nanos.to_le_bytes());
                }
            }
        }
    }
    hasher.finalize().into()
}

impl Devices {
    /// Device-type templates from `dirs` (searched in order).
    pub fn new(dirs: &[PathBuf]) -> Devices {
        Devices {
            templates: TemplateSet::new(dirs),
            fingerprint: Mutex::new((Instant::now(), fingerprint(dirs))),
            checked: Mutex::new(HashMap::new()),
        }
    }

    fn current_fingerprint(&self) -> [u8; 32] {
        let mut guard = self.fingerprint.lock().unwrap_or_else(|e| e.into_inner());
        if guard.0.elapsed() >= Duration::from_secs(1) {
            *guard = (Instant::now(), fingerprint(self.templates.search_path()));
        }
        guard.1
    }

    /// Render a device's configuration for a job `context`.
    pub fn render(
        &self,
        hostname: &str,
        dictionary: Option<&str>,
        context: &Mapping,
    ) -> Result<String, String> {
        self.templates
            .render_device(hostname, dictionary, context)
            .map_err(|e| e.to_string())
    }

    /// Render and validate (as the scheduler's check does, without a job).
    fn validate(&self, hostname: &str, dictionary: Option<&str>) -> Result<(), String> {
        self.templates
            .check_device(hostname, dictionary)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl DeviceCheck for Devices {
    fn check(
        &self,
        hostname: &str,
        _device_type: &str,
        dictionary: Option<&str>,
    ) -> Result<(), String> {
        let key = (
            hostname.to_string(),
            sha(dictionary.unwrap_or("\u{0}none").as_bytes()),
            self.current_fingerprint(),
        );
        if let Some(result) = self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return result.clone();
        }
        let result = self.validate(hostname, dictionary);
        let mut cache = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(h, _, _), _| h != hostname);
        cache.insert(key, result.clone());
        result
    }
}

/// Where a job's files live: `<jobs_dir>/<YYYY>/<MM>/<DD>/<id>/` (from the
/// submit date, as LAVA lays out `job-output`).
pub fn output_dir(jobs_dir: &Path, job: &Job) -> PathBuf {
    let day =
        lava_proto::time::UtcTime::from_unix(job.submit_time.div_euclid(1_000_000), 0).isoformat();
    jobs_dir
        .join(&day[0..4])
        .join(&day[5..7])
        .join(&day[8..10])
        .join(job.id.to_string())
}

/// The job definition as the worker gets it: the stored definition with a
/// top-level `compatibility` key.
fn definition_with_compatibility(definition: &str, value: &Value, compatibility: i64) -> String {
    let block_mapping = definition
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("---"))
        .is_some_and(|first| !first.starts_with('{'));
    if block_mapping && value.get("compatibility").is_none() {
        let mut text = definition.trim_end_matches('\n').to_string();
        text.push_str(&format!("\ncompatibility: {compatibility}\n"));
        return text;
    }
    // Anything else (JSON, flow style, an existing key): one flow line.
    let mut map = value.as_mapping().cloned().unwrap_or_default();
    map.insert("compatibility", Value::Int(compatibility));
    yaml::to_flow_line(&Value::Mapping(map))
}

/// Per-worker files: `<dir>/<worker>/<name>`, else `<dir>/<fallback>`.
fn worker_file(
    dir: Option<&Path>,
    worker: &str,
    name: &str,
    fallback: Option<&str>,
) -> Result<String, String> {
    let Some(dir) = dir else {
        return Ok(String::new());
    };
    let mut candidates = vec![dir.join(worker).join(name)];
    if let Some(fallback) = fallback {
        candidates.push(dir.join(fallback));
    }
    for path in candidates {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                yaml::load(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                return Ok(text);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Ok(String::new())
}

/// The device configuration a multinode connection sub-job gets from its
/// host role's device (docs/multinode.md §4): `hostname`, `constants` (with
/// `kernel-start-message: ""`), `timeouts` and the `connections` and
/// `methods` of `actions.deploy` and `actions.boot`, as LAVA's
/// `minimise_configuration`. No `commands`: the connection's lava-run never
/// powers, resets or connects to the board its host job is testing.
pub fn minimise_configuration(rendered: &str, hostname: &str) -> Result<String, String> {
    let full = yaml::load(rendered).map_err(|e| format!("device {hostname}: {e}"))?;
    let mut constants = full
        .get("constants")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    constants.insert("kernel-start-message", "");
    let mut out = Mapping::new();
    out.insert("hostname", hostname);
    out.insert("constants", Value::Mapping(constants));
    if let Some(timeouts) = full.get("timeouts") {
        out.insert("timeouts", timeouts.clone());
    }
    let mut actions = Mapping::new();
    for section in ["deploy", "boot"] {
        let mut kept = Mapping::new();
        for key in ["connections", "methods"] {
            if let Some(v) = full
                .get("actions")
                .and_then(|a| a.get(section))
                .and_then(|s| s.get(key))
            {
                kept.insert(key, v.clone());
            }
        }
        if !kept.is_empty() {
            actions.insert(section, Value::Mapping(kept));
        }
    }
    if !actions.is_empty() {
        out.insert("actions", Value::Mapping(actions));
    }
    Ok(crate::multinode::to_block_yaml(&Value::Mapping(out)))
}

/// Build the START payload of `job` on `device` and write the files LAVA
/// keeps in the job's output directory (`job.yaml`, `device.yaml`, and the
/// non-empty `dispatcher.yaml`, `env.yaml`, `env.dut.yaml`).
///
/// A multinode connection sub-job is started on its host role's `device`
/// (docs/multinode.md §4) with that device's configuration cut down by
/// [`minimise_configuration`]. `token`, a coordinator member token, goes into
/// `protocols.lava-multinode.token` of the definition sent, and nowhere
/// else: `job.yaml` is written without it.
pub fn start_payload(
    devices: &Devices,
    job: &Job,
    device: &Device,
    dispatcher_dir: Option<&Path>,
    out_dir: &Path,
    token: Option<&str>,
) -> Result<StartJob, String> {
    let worker = device.worker.as_deref().unwrap_or_default();
    let value = yaml::load(&job.definition).map_err(|e| format!("job definition: {e}"))?;
    let context = value
        .get("context")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let mut device_config =
        devices.render(&device.hostname, device.dictionary.as_deref(), &context)?;
    if job.requested_device_type.is_none() && value.get("connection").is_some() {
        device_config = minimise_configuration(&device_config, &device.hostname)?;
    }
    DeviceConfig::from_yaml(&device_config)
        .map_err(|e| format!("device {}: {e}", device.hostname))?;
    let stored = definition_with_compatibility(&job.definition, &value, 0);
    let sent = match token {
        None => stored.clone(),
        Some(token) => {
            let text =
                crate::multinode::with_protocol_key(&job.definition, "token", Value::from(token))?;
            let value = yaml::load(&text).map_err(|e| format!("job definition: {e}"))?;
            definition_with_compatibility(&text, &value, 0)
        }
    };
    let start = StartJob {
        job_id: job.id as u64,
        definition: sent,
        device: device_config,
        dispatcher: {
            // LAVA: <worker>/dispatcher.yaml, else <worker>.yaml.
            let own = worker_file(dispatcher_dir, worker, "dispatcher.yaml", None)?;
            if own.is_empty() {
                worker_file(dispatcher_dir, "", &format!("{worker}.yaml"), None)?
            } else {
                own
            }
        },
        env: worker_file(dispatcher_dir, worker, "env.yaml", Some("env.yaml"))?,
        env_dut: worker_file(dispatcher_dir, worker, "env.dut.yaml", Some("env.dut.yaml"))?,
    };
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let write = |name: &str, text: &str, always: bool| -> Result<(), String> {
        if always || !text.is_empty() {
            let path = out_dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    };
    write("job.yaml", &stored, true)?;
    write("device.yaml", &start.device, true)?;
    write("dispatcher.yaml", &start.dispatcher, false)?;
    write("env.yaml", &start.env, false)?;
    write("env.dut.yaml", &start.env_dut, false)?;
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_is_added_to_block_and_flow_definitions() {
        let block = "# my job\njob_name: smoke\nactions: []\n";
        let value = yaml::load(block).unwrap();
        assert_eq!(
            definition_with_compatibility(block, &value, 0),
            "# my job\njob_name: smoke\nactions: []\ncompatibility: 0\n"
        );
        let json = "{\"job_name\": \"smoke\"}";
        let value = yaml::load(json).unwrap();
        let out = definition_with_compatibility(json, &value, 3);
        assert_eq!(
            yaml::load(&out).unwrap().get("compatibility"),
            Some(&Value::Int(3))
        );
    }

    /// A connection sub-job gets no power or connection commands, nor
    /// anything else of the host board's configuration but what LAVA keeps.
    #[test]
    fn connection_configuration_has_no_commands() {
        let full = "device_type: qemu\ncommands:\n  power_off: pdu off 3\n  \
                    connect: telnet ser2net 7001\nparameters: {interfaces: {eth0: {}}}\n\
                    constants:\n  kernel-start-message: Linux version\n  shutdown-message: bye\n\
                    timeouts: {job: {minutes: 5}, actions: {}, connections: {}}\ncharacter_delays: {boot: 10}\n\
                    actions:\n  deploy:\n    connections: {lxc: null}\n    methods: {tftp: null}\n    \
                    parameters: {x: 1}\n  boot:\n    connections: {serial: null, ssh: null}\n    \
                    methods:\n      ssh: null\n      u-boot: {parameters: {bootloader_prompt: '=>'}}\n";
        let text = minimise_configuration(full, "board-01").unwrap();
        let value = yaml::load(&text).unwrap();
        let keys: Vec<&str> = value
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(keys, ["hostname", "constants", "timeouts", "actions"]);
        assert!(!text.contains("pdu") && !text.contains("telnet"), "{text}");
        assert_eq!(value.get("hostname"), Some(&Value::from("board-01")));
        let constants = value.get("constants").unwrap();
        assert_eq!(
            constants.get("kernel-start-message"),
            Some(&Value::from(""))
        );
        assert_eq!(constants.get("shutdown-message"), Some(&Value::from("bye")));
        let actions = value.get("actions").unwrap();
        assert_eq!(
            actions.get("deploy"),
            Some(&yaml::load("{connections: {lxc: null}, methods: {tftp: null}}").unwrap())
        );
        assert!(actions
            .get("boot")
            .and_then(|b| b.get("methods"))
            .and_then(|m| m.get("u-boot"))
            .is_some());
        DeviceConfig::from_yaml(&text).unwrap();
        // no constants at all: kernel-start-message is still set
        let text = minimise_configuration("commands: {power_on: on}\n", "b").unwrap();
        assert_eq!(
            yaml::load(&text).unwrap(),
            yaml::load("{hostname: b, constants: {kernel-start-message: ''}}").unwrap()
        );
    }
}
