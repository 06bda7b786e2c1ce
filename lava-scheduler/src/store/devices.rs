//! Devices, their health and dictionaries, and the transition history.

use std::collections::BTreeMap;

use super::rows::*;
use super::*;
use crate::db::Conn;
use crate::error::StoreError;
use crate::model::*;
use crate::state;

/// Set a device's health inside a transaction, logging the change.
pub(crate) fn change_device_health(
    conn: &mut dyn Conn,
    hostname: &str,
    old: DeviceHealth,
    new: DeviceHealth,
    actor: &str,
    reason: &str,
) -> Result<(), StoreError> {
    if old == new {
        return Ok(());
    }
    let changed = conn.execute(
        "UPDATE devices SET health = $1 WHERE hostname = $2 AND health = $3",
        &[new.code().into(), hostname.into(), old.code().into()],
    )?;
    if changed != 1 {
        return Err(StoreError::InvalidTransition {
            object: format!("device {hostname}"),
            from: old.to_string(),
            to: new.to_string(),
        });
    }
    log_transition(
        conn,
        "device",
        hostname,
        old.label(),
        new.label(),
        actor,
        reason,
    )
}

/// Whether a name can be a device's hostname.
pub(super) fn check_device_hostname(hostname: &str) -> Result<(), StoreError> {
    if hostname.is_empty() || hostname.contains('/') || hostname.chars().any(char::is_whitespace) {
        return Err(StoreError::Refused(format!(
            "invalid device hostname '{hostname}'"
        )));
    }
    Ok(())
}

/// Add a device inside a transaction (state Idle; a device joining a worker
/// in Maintenance or Retired follows the worker).
pub(super) fn add_device_in(
    conn: &mut dyn Conn,
    device: &NewDevice,
    actor: &str,
) -> Result<Device, StoreError> {
    let hostname = device.hostname.as_str();
    if conn
        .query_opt(
            "SELECT hostname FROM devices WHERE hostname = $1",
            &[hostname.into()],
        )?
        .is_some()
    {
        return Err(StoreError::Exists {
            kind: "device",
            name: hostname.to_string(),
        });
    }
    let alias = conn
        .query_opt(
            "SELECT device_type FROM aliases WHERE name = $1",
            &[device.device_type.as_str().into()],
        )?
        .map(|row| row.text(0))
        .transpose()?;
    let device_type = device_type_in(conn, alias.as_deref().unwrap_or(&device.device_type))?;
    // A device joining a worker in Maintenance or Retired follows
    // the worker, as if the worker's health had cascaded to it.
    let mut health = device.health;
    if let Some(worker) = &device.worker {
        let worker = lock_worker(conn, worker)?;
        if let Some(h) = state::worker_health_cascade(WorkerHealth::Active, worker.health, health) {
            health = h;
        }
    }
    conn.execute(
        "INSERT INTO devices (hostname, device_type, worker, description, state, health, dictionary) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            hostname.into(),
            device_type.name.as_str().into(),
            device.worker.clone().into(),
            device.description.as_str().into(),
            DeviceState::Idle.code().into(),
            health.code().into(),
            device.dictionary.clone().into(),
        ],
    )?;
    for tag in &device.tags {
        if conn
            .query_opt("SELECT name FROM tags WHERE name = $1", &[tag.into()])?
            .is_none()
        {
            conn.execute(
                "INSERT INTO tags (name, description) VALUES ($1, '')",
                &[tag.into()],
            )?;
        }
        conn.execute(
            "INSERT INTO device_tags (device, tag) VALUES ($1, $2)",
            &[hostname.into(), tag.into()],
        )?;
    }
    log_transition(
        conn,
        "device",
        hostname,
        "",
        health.label(),
        actor,
        "created",
    )?;
    lock_device(conn, hostname)
}

impl SqlStore {
    /// Add a device (state Idle).
    pub fn add_device(&self, device: &NewDevice, actor: &str) -> Result<Device, StoreError> {
        check_device_hostname(&device.hostname)?;
        self.tx(|conn| add_device_in(conn, device, actor))
    }

    /// One device.
    pub fn device(&self, hostname: &str) -> Result<Device, StoreError> {
        self.tx(|conn| {
            let row = conn
                .query_opt(
                    &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE hostname = $1"),
                    &[hostname.into()],
                )?
                .ok_or_else(|| not_found("device", hostname))?;
            let tags = device_tags(conn, hostname)?;
            device_from(&row, tags)
        })
    }

    /// Devices matching a filter, by hostname.
    pub fn devices(&self, filter: &DeviceFilter) -> Result<Vec<Device>, StoreError> {
        self.tx(|conn| {
            let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for row in conn.query("SELECT device, tag FROM device_tags ORDER BY tag", &[])? {
                tags.entry(row.text(0)?).or_default().push(row.text(1)?);
            }
            let rows = conn.query(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY hostname"),
                &[],
            )?;
            let mut out = Vec::new();
            for row in &rows {
                let hostname = row.text(0)?;
                let device = device_from(row, tags.remove(&hostname).unwrap_or_default())?;
                let retired_hidden = device.health == DeviceHealth::Retired
                    && !filter.include_retired
                    && filter.health != Some(DeviceHealth::Retired);
                if retired_hidden
                    || filter.state.is_some_and(|s| s != device.state)
                    || filter.health.is_some_and(|h| h != device.health)
                    || filter
                        .worker
                        .as_ref()
                        .is_some_and(|w| Some(w) != device.worker.as_ref())
                    || filter
                        .device_type
                        .as_ref()
                        .is_some_and(|t| *t != device.device_type)
                {
                    continue;
                }
                out.push(device);
            }
            Ok(out)
        })
    }

    /// Change a device's description or worker.
    pub fn update_device(
        &self,
        hostname: &str,
        update: &DeviceUpdate,
    ) -> Result<Device, StoreError> {
        self.tx(|conn| {
            let device = lock_device(conn, hostname)?;
            if let Some(worker) = &update.worker {
                lock_worker(conn, worker)?;
            }
            conn.execute(
                "UPDATE devices SET description = $1, worker = $2 WHERE hostname = $3",
                &[
                    update
                        .description
                        .clone()
                        .unwrap_or(device.description)
                        .into(),
                    update.worker.clone().or(device.worker).into(),
                    hostname.into(),
                ],
            )?;
            lock_device(conn, hostname)
        })
    }

    /// Set a device's health (an admin decision; logged). Returns the old health.
    pub fn set_device_health(
        &self,
        hostname: &str,
        health: DeviceHealth,
        actor: &str,
        reason: &str,
    ) -> Result<DeviceHealth, StoreError> {
        self.tx(|conn| {
            let device = lock_device(conn, hostname)?;
            change_device_health(conn, hostname, device.health, health, actor, reason)?;
            Ok(device.health)
        })
    }

    /// Store (or clear) a device's dictionary text.
    pub fn set_dictionary(
        &self,
        hostname: &str,
        dictionary: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tx(|conn| {
            let changed = conn.execute(
                "UPDATE devices SET dictionary = $1 WHERE hostname = $2",
                &[dictionary.into(), hostname.into()],
            )?;
            if changed == 0 {
                return Err(not_found("device", hostname));
            }
            Ok(())
        })
    }

    /// The health changes of an object (`device` or `worker`), oldest first.
    pub fn transitions(
        &self,
        object_kind: &str,
        object: &str,
    ) -> Result<Vec<Transition>, StoreError> {
        self.tx(|conn| {
            conn.query(
                &format!(
                    "SELECT {TRANSITION_COLUMNS} FROM transitions WHERE object_kind = $1 AND object = $2 ORDER BY id"
                ),
                &[object_kind.into(), object.into()],
            )?
            .iter()
            .map(transition_from)
            .collect()
        })
    }
}
