//! Per-job state shared by actions: the namespace data store, the open
//! connections of each namespace, and the job's temporary directories.
//!
//! The data store is LAVA's `context[namespace][action][label][key]`
//! (docs/pipeline.md §4.8); keys are the well-known strings LAVA uses
//! (`download-action`/`rootfs`/`file`, `test`/`results`/`lava_test_results_dir`, ...)
//! so that actions written by others can find what built-in actions
//! publish.
//!
//! ```
//! use lava_pipeline::JobData;
//! use lava_proto::yaml::Value;
//!
//! let mut data = JobData::new("/tmp/lava-doc", "7");
//! data.set("common", "download-action", "rootfs", "file", Value::from("/tmp/x/rootfs.img"));
//! assert_eq!(data.get_str("common", "download-action", "rootfs", "file").as_deref(), Some("/tmp/x/rootfs.img"));
//! assert!(data.get("other", "download-action", "rootfs", "file").is_none());
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lava_proto::yaml::Value;

use crate::connection::SessionHandle;
use crate::error::Error;

type Key = (String, String, String);

/// The job's shared, mutable state.
#[derive(Default)]
pub struct JobData {
    values: BTreeMap<String, BTreeMap<Key, Value>>,
    connections: BTreeMap<String, SessionHandle>,
    tmp_base: PathBuf,
    job_dir_name: String,
    created: Vec<PathBuf>,
}

impl std::fmt::Debug for JobData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobData")
            .field("values", &self.values)
            .field("connections", &self.connections.keys().collect::<Vec<_>>())
            .field("tmp_base", &self.tmp_base)
            .finish()
    }
}

impl JobData {
    /// Empty state; temporary directories go under
    /// `<tmp_base>/<job_dir_name>/` (created when first needed).
    pub fn new(tmp_base: impl Into<PathBuf>, job_dir_name: &str) -> Self {
        JobData {
            tmp_base: tmp_base.into(),
            job_dir_name: job_dir_name.to_string(),
            ..JobData::default()
        }
    }

    /// Store a value.
    pub fn set(&mut self, namespace: &str, action: &str, label: &str, key: &str, value: Value) {
        self.values
            .entry(namespace.to_string())
            .or_default()
            .insert(
                (action.to_string(), label.to_string(), key.to_string()),
                value,
            );
    }

    /// A stored value.
    pub fn get(&self, namespace: &str, action: &str, label: &str, key: &str) -> Option<&Value> {
        self.values
            .get(namespace)?
            .get(&(action.to_string(), label.to_string(), key.to_string()))
    }

    /// A stored string.
    pub fn get_str(&self, namespace: &str, action: &str, label: &str, key: &str) -> Option<String> {
        self.get(namespace, action, label, key)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Remove a value.
    pub fn remove(&mut self, namespace: &str, action: &str, label: &str, key: &str) {
        if let Some(map) = self.values.get_mut(namespace) {
            map.remove(&(action.to_string(), label.to_string(), key.to_string()));
        }
    }

    /// Every `(label, key, value)` stored under `action` in `namespace`.
    pub fn entries(&self, namespace: &str, action: &str) -> Vec<(String, String, Value)> {
        self.values
            .get(namespace)
            .map(|m| {
                m.iter()
                    .filter(|((a, _, _), _)| a == action)
                    .map(|((_, l, k), v)| (l.clone(), k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The connection stored for `namespace`.
    pub fn connection(&self, namespace: &str) -> Option<SessionHandle> {
        self.connections.get(namespace).cloned()
    }

    /// Store the connection of `namespace`.
    pub fn set_connection(&mut self, namespace: &str, session: SessionHandle) {
        self.connections.insert(namespace.to_string(), session);
    }

    /// Forget the connection of `namespace` (it is not closed).
    pub fn take_connection(&mut self, namespace: &str) -> Option<SessionHandle> {
        self.connections.remove(namespace)
    }

    /// Every namespace with a connection.
    pub fn connection_namespaces(&self) -> Vec<String> {
        self.connections.keys().cloned().collect()
    }

    /// The job's own temporary directory (`<base>/<prefix><job id>`).
    pub fn job_dir(&self) -> PathBuf {
        self.tmp_base.join(&self.job_dir_name)
    }

    /// A new directory `<job dir>/<name>-<unique>` (mode 0755), created now
    /// and removed with the job's other temporary directories.
    pub fn mkdtemp(&mut self, name: &str) -> Result<PathBuf, Error> {
        use std::os::unix::fs::DirBuilderExt;
        let base = self.job_dir();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&base)
            .map_err(|e| {
                Error::infrastructure(format!("Unable to create {}: {e}", base.display()))
            })?;
        if !self.created.contains(&base) {
            self.created.push(base.clone());
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        for attempt in 0..1000u32 {
            let dir = base.join(format!(
                "{name}-{:08x}",
                stamp.wrapping_add(attempt.wrapping_mul(7919))
            ));
            match std::fs::DirBuilder::new().mode(0o755).create(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::infrastructure(format!(
                        "Unable to create {}: {e}",
                        dir.display()
                    )))
                }
            }
        }
        Err(Error::infrastructure(format!(
            "Unable to create a temporary directory in {}",
            base.display()
        )))
    }

    /// Remove every temporary directory; returns the removed roots.
    pub fn remove_tmp(&mut self) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        for dir in self.created.drain(..) {
            if remove_tree(&dir).is_ok() {
                removed.push(dir);
            }
        }
        removed
    }
}

fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
