//! Workers: registration, health (cascading to their devices), state.

use super::rows::*;
use super::*;
use crate::error::StoreError;
use crate::model::*;
use crate::state;

/// Whether a name can be a worker's hostname (its identity on the control
/// channel).
pub(super) fn check_worker_hostname(hostname: &str) -> Result<(), StoreError> {
    lava_proto::socket::validate_hostname(hostname).map_err(|e| StoreError::Refused(e.to_string()))
}

/// Add a worker inside a transaction (state Offline until it talks).
pub(super) fn add_worker_in(
    conn: &mut dyn Conn,
    worker: &NewWorker,
    actor: &str,
) -> Result<Worker, StoreError> {
    if conn
        .query_opt(
            "SELECT hostname FROM workers WHERE hostname = $1",
            &[worker.hostname.as_str().into()],
        )?
        .is_some()
    {
        return Err(StoreError::Exists {
            kind: "worker",
            name: worker.hostname.clone(),
        });
    }
    conn.execute(
        "INSERT INTO workers (hostname, description, state, health) VALUES ($1, $2, $3, $4)",
        &[
            worker.hostname.as_str().into(),
            worker.description.as_str().into(),
            WorkerState::Offline.code().into(),
            worker.health.code().into(),
        ],
    )?;
    log_transition(
        conn,
        "worker",
        &worker.hostname,
        "",
        worker.health.label(),
        actor,
        "created",
    )?;
    lock_worker(conn, &worker.hostname)
}

impl SqlStore {
    /// Add a worker (state Offline until it talks).
    pub fn add_worker(&self, worker: &NewWorker, actor: &str) -> Result<Worker, StoreError> {
        check_worker_hostname(&worker.hostname)?;
        self.tx(|conn| add_worker_in(conn, worker, actor))
    }

    /// One worker.
    pub fn worker(&self, hostname: &str) -> Result<Worker, StoreError> {
        self.tx(|conn| {
            conn.query_opt(
                &format!("SELECT {WORKER_COLUMNS} FROM workers WHERE hostname = $1"),
                &[hostname.into()],
            )?
            .map(|row| worker_from(&row))
            .transpose()?
            .ok_or_else(|| not_found("worker", hostname))
        })
    }

    /// All workers (Retired ones only with `include_retired`).
    pub fn workers(&self, include_retired: bool) -> Result<Vec<Worker>, StoreError> {
        self.tx(|conn| {
            let rows = conn.query(
                &format!("SELECT {WORKER_COLUMNS} FROM workers ORDER BY hostname"),
                &[],
            )?;
            let mut out = Vec::new();
            for row in &rows {
                let worker = worker_from(row)?;
                if include_retired || worker.health != WorkerHealth::Retired {
                    out.push(worker);
                }
            }
            Ok(out)
        })
    }

    /// Change a worker's description.
    pub fn set_worker_description(
        &self,
        hostname: &str,
        description: &str,
    ) -> Result<(), StoreError> {
        self.tx(|conn| {
            let changed = conn.execute(
                "UPDATE workers SET description = $1 WHERE hostname = $2",
                &[description.into(), hostname.into()],
            )?;
            if changed == 0 {
                return Err(not_found("worker", hostname));
            }
            Ok(())
        })
    }

    /// Set how many jobs a worker may run at once (0: no limit). The
    /// scheduler counts the worker's busy devices against it.
    pub fn set_worker_job_limit(&self, hostname: &str, limit: i64) -> Result<(), StoreError> {
        if limit < 0 {
            return Err(StoreError::Refused(format!(
                "a job limit must be 0 (no limit) or more, not {limit}"
            )));
        }
        self.tx(|conn| {
            let changed = conn.execute(
                "UPDATE workers SET job_limit = $1 WHERE hostname = $2",
                &[limit.into(), hostname.into()],
            )?;
            if changed == 0 {
                return Err(not_found("worker", hostname));
            }
            Ok(())
        })
    }

    /// Change a worker's health, cascading to its devices (docs/scheduler.md
    /// §2.2). Returns the devices whose health changed, with old and new.
    pub fn set_worker_health(
        &self,
        hostname: &str,
        health: WorkerHealth,
        actor: &str,
        reason: &str,
    ) -> Result<Vec<(String, DeviceHealth, DeviceHealth)>, StoreError> {
        self.tx(|conn| {
            let worker = lock_worker(conn, hostname)?;
            if worker.health == health {
                return Ok(Vec::new());
            }
            // Devices first (lock order device → job; the worker row is
            // only read-locked to keep its health stable).
            let sql = format!(
                "SELECT hostname, health FROM devices WHERE worker = $1 ORDER BY hostname{}",
                conn.dialect().for_update()
            );
            let devices = conn.query(&sql, &[hostname.into()])?;
            let mut changes = Vec::new();
            for row in &devices {
                let device = row.text(0)?;
                let old = row.code(1, DeviceHealth::from_code, "device health")?;
                if let Some(new) = state::worker_health_cascade(worker.health, health, old) {
                    let why = format!("worker {hostname} → {health}: {reason}");
                    change_device_health(conn, &device, old, new, actor, &why)?;
                    changes.push((device, old, new));
                }
            }
            conn.execute(
                "UPDATE workers SET health = $1 WHERE hostname = $2",
                &[health.code().into(), hostname.into()],
            )?;
            log_transition(
                conn,
                "worker",
                hostname,
                worker.health.label(),
                health.label(),
                actor,
                reason,
            )?;
            Ok(changes)
        })
    }

    /// Take every device of a worker offline (Maintenance) in one
    /// transaction, whatever its health, except Retired ones. Returns the
    /// devices changed.
    pub fn worker_devices_offline(
        &self,
        hostname: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Vec<(String, DeviceHealth, DeviceHealth)>, StoreError> {
        self.tx(|conn| {
            lock_worker(conn, hostname)?;
            let sql = format!(
                "SELECT hostname, health FROM devices WHERE worker = $1 ORDER BY hostname{}",
                conn.dialect().for_update()
            );
            let mut changes = Vec::new();
            for row in conn.query(&sql, &[hostname.into()])? {
                let device = row.text(0)?;
                let old = row.code(1, DeviceHealth::from_code, "device health")?;
                if !matches!(old, DeviceHealth::Maintenance | DeviceHealth::Retired) {
                    let why = format!("all devices of worker {hostname} offline: {reason}");
                    change_device_health(
                        conn,
                        &device,
                        old,
                        DeviceHealth::Maintenance,
                        actor,
                        &why,
                    )?;
                    changes.push((device, old, DeviceHealth::Maintenance));
                }
            }
            Ok(changes)
        })
    }

    /// Set a worker Online or Offline (the master's view); also records
    /// `last_ping` when Online. Returns whether the state changed.
    pub fn set_worker_state(&self, hostname: &str, new: WorkerState) -> Result<bool, StoreError> {
        self.tx(|conn| {
            let worker = lock_worker(conn, hostname)?;
            if new == WorkerState::Online {
                conn.execute(
                    "UPDATE workers SET last_ping = $1 WHERE hostname = $2",
                    &[now_micros().into(), hostname.into()],
                )?;
            }
            if worker.state == new {
                return Ok(false);
            }
            conn.execute(
                "UPDATE workers SET state = $1 WHERE hostname = $2",
                &[new.code().into(), hostname.into()],
            )?;
            log::info!(
                "[STATE] worker {hostname} goes {}",
                new.label().to_uppercase()
            );
            Ok(true)
        })
    }

    /// Every worker Offline (master start-up). Returns how many changed.
    pub fn mark_all_workers_offline(&self) -> Result<u64, StoreError> {
        self.tx(|conn| {
            conn.execute(
                "UPDATE workers SET state = $1 WHERE state <> $1",
                &[WorkerState::Offline.code().into()],
            )
        })
    }
}
