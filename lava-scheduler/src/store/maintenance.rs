//! The whole instance in maintenance and back (`lava-server manage
//! maintenance`, docs/operations.md "Maintenance").

use super::*;
use crate::error::StoreError;
use crate::model::*;

/// The reason recorded in the transition log when the instance goes into
/// maintenance; [`SqlStore::end_maintenance`] brings back exactly the
/// devices whose last change carries it.
pub const MAINTENANCE_REASON: &str = "instance maintenance (lava-server manage maintenance)";

/// What [`SqlStore::start_maintenance`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// The devices put in Maintenance, with their health before.
    pub devices: Vec<(String, DeviceHealth)>,
    /// The jobs set Canceling (with `force`).
    pub canceled: Vec<i64>,
}

impl SqlStore {
    /// Put every device that is not already in Maintenance or Retired in
    /// Maintenance, in one transaction (rolled back when `dry_run`): no
    /// new job starts anywhere. Running jobs finish, unless `force`, which
    /// cancels every job holding a device (Scheduling, Scheduled or
    /// Running). Queued jobs stay queued. Workers are not touched.
    pub fn start_maintenance(
        &self,
        actor: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<MaintenanceReport, StoreError> {
        rolled_back_if(self, dry_run, |conn| {
            let mut report = MaintenanceReport::default();
            // Lock order: devices, then jobs.
            let sql = format!(
                "SELECT hostname, health FROM devices ORDER BY hostname{}",
                conn.dialect().for_update()
            );
            for row in conn.query(&sql, &[])? {
                let hostname = row.text(0)?;
                let old = row.code(1, DeviceHealth::from_code, "device health")?;
                if !matches!(old, DeviceHealth::Maintenance | DeviceHealth::Retired) {
                    change_device_health(
                        conn,
                        &hostname,
                        old,
                        DeviceHealth::Maintenance,
                        actor,
                        MAINTENANCE_REASON,
                    )?;
                    report.devices.push((hostname, old));
                }
            }
            if force {
                let holding = [JobState::Scheduling, JobState::Scheduled, JobState::Running];
                let sql = format!(
                    "SELECT id FROM jobs WHERE state IN ({}) ORDER BY id",
                    holding
                        .iter()
                        .map(|s| s.code().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                for row in conn.query(&sql, &[])? {
                    let id = row.int(0)?;
                    if Self::cancel_one(conn, id, actor)? == Some(true) {
                        report.canceled.push(id);
                    }
                }
            }
            Ok(report)
        })
    }

    /// Bring back the devices that [`start_maintenance`](Self::start_maintenance)
    /// took (those still in Maintenance whose last change was its), in one
    /// transaction (rolled back when `dry_run`): a device that was Bad or
    /// Looping goes back to that health, the others to Unknown, so each
    /// runs its health check before user jobs. Devices an admin put in
    /// Maintenance for their own reasons stay there. Returns the devices
    /// changed, with old and new health.
    pub fn end_maintenance(
        &self,
        actor: &str,
        dry_run: bool,
    ) -> Result<Vec<(String, DeviceHealth, DeviceHealth)>, StoreError> {
        rolled_back_if(self, dry_run, |conn| {
            let sql = format!(
                "SELECT hostname FROM devices WHERE health = $1 ORDER BY hostname{}",
                conn.dialect().for_update()
            );
            let mut changes = Vec::new();
            for row in conn.query(&sql, &[DeviceHealth::Maintenance.code().into()])? {
                let hostname = row.text(0)?;
                let last = conn.query_opt(
                    "SELECT old_value, reason FROM transitions WHERE object_kind = 'device' AND object = $1 ORDER BY id DESC LIMIT 1",
                    &[hostname.as_str().into()],
                )?;
                let Some(last) = last else { continue };
                if last.text(1)? != MAINTENANCE_REASON {
                    continue;
                }
                let new = match DeviceHealth::parse(&last.text(0)?) {
                    Some(h @ (DeviceHealth::Bad | DeviceHealth::Looping)) => h,
                    _ => DeviceHealth::Unknown,
                };
                change_device_health(
                    conn,
                    &hostname,
                    DeviceHealth::Maintenance,
                    new,
                    actor,
                    "end of instance maintenance (lava-server manage maintenance --end)",
                )?;
                changes.push((hostname, DeviceHealth::Maintenance, new));
            }
            Ok(changes)
        })
    }
}

/// Run `f` in one transaction, committed unless `dry_run`.
pub(super) fn rolled_back_if<T>(
    store: &SqlStore,
    dry_run: bool,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut kept = None;
    let result = store.tx(|conn| {
        let value = f(conn)?;
        if dry_run {
            kept = Some(value);
            return Err(StoreError::Refused("dry run: rolled back".into()));
        }
        Ok(value)
    });
    match kept {
        Some(value) => Ok(value),
        None => result,
    }
}
