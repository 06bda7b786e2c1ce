//! Row mapping, one function per model, and the locking reads every
//! transition starts with (device first, then job).

use crate::db::{Conn, Row};
use crate::error::StoreError;
use crate::model::*;

pub(super) const WORKER_COLUMNS: &str =
    "hostname, description, state, health, last_ping, job_limit";
pub(super) const DEVICE_TYPE_COLUMNS: &str =
    "name, description, health_frequency, health_denominator, health_check_disabled, health_check";
pub(super) const DEVICE_COLUMNS: &str = "hostname, device_type, worker, description, state, health, dictionary, current_job, last_health_report_job";
pub(super) const JOB_COLUMNS: &str = "id, submitter, description, definition, original_definition, requested_device_type, actual_device, state, health, priority, health_check, target_group, essential, sub_id, submit_time, start_time, end_time, failure_comment, infrastructure_error, visibility, multinode_definition";

pub(super) fn worker_from(row: &Row) -> Result<Worker, StoreError> {
    Ok(Worker {
        hostname: row.text(0)?,
        description: row.text(1)?,
        state: row.code(2, WorkerState::from_code, "worker state")?,
        health: row.code(3, WorkerHealth::from_code, "worker health")?,
        last_ping: row.opt_int(4)?,
        job_limit: row.int(5)?,
    })
}

pub(super) fn device_from(row: &Row, tags: Vec<String>) -> Result<Device, StoreError> {
    Ok(Device {
        hostname: row.text(0)?,
        device_type: row.text(1)?,
        worker: row.opt_text(2)?,
        description: row.text(3)?,
        state: row.code(4, DeviceState::from_code, "device state")?,
        health: row.code(5, DeviceHealth::from_code, "device health")?,
        dictionary: row.opt_text(6)?,
        current_job: row.opt_int(7)?,
        last_health_report_job: row.opt_int(8)?,
        tags,
    })
}

/// A job from a row of `JOB_COLUMNS`, with its tags and viewing groups.
pub(super) fn job_from(conn: &mut dyn Conn, row: &Row) -> Result<Job, StoreError> {
    let id = row.int(0)?;
    let tags = job_tags(conn, id)?;
    let visibility = row.code(19, JobVisibility::from_code, "job visibility")?;
    let viewing_groups = if visibility == JobVisibility::Group {
        conn.query(
            "SELECT g.name FROM job_viewing_groups v JOIN groups g ON g.id = v.group_id WHERE v.job = $1 ORDER BY g.name",
            &[id.into()],
        )?
        .iter()
        .map(|row| row.text(0))
        .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    Ok(Job {
        id: row.int(0)?,
        submitter: row.text(1)?,
        description: row.text(2)?,
        definition: row.text(3)?,
        original_definition: row.text(4)?,
        requested_device_type: row.opt_text(5)?,
        actual_device: row.opt_text(6)?,
        state: row.code(7, JobState::from_code, "job state")?,
        health: row.code(8, JobHealth::from_code, "job health")?,
        priority: row.int(9)?,
        health_check: row.bool(10)?,
        target_group: row.opt_text(11)?,
        essential: row.bool(12)?,
        sub_id: row.text(13)?,
        submit_time: row.int(14)?,
        start_time: row.opt_int(15)?,
        end_time: row.opt_int(16)?,
        failure_comment: row.opt_text(17)?,
        infrastructure_error: row.bool(18)?,
        multinode_definition: row.text(20)?,
        tags,
        visibility,
        viewing_groups,
    })
}

pub(super) fn not_found(kind: &'static str, name: impl ToString) -> StoreError {
    StoreError::NotFound {
        kind,
        name: name.to_string(),
    }
}

/// Record a health change in the transition log.
pub(super) fn log_transition(
    conn: &mut dyn Conn,
    kind: &str,
    object: &str,
    old: &str,
    new: &str,
    actor: &str,
    reason: &str,
) -> Result<(), StoreError> {
    log::info!("[{kind} {object}] {old} → {new} by {actor}: {reason}");
    conn.execute(
        "INSERT INTO transitions (at, object_kind, object, old_value, new_value, actor, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[now_micros().into(), kind.into(), object.into(), old.into(), new.into(), actor.into(), reason.into()],
    )?;
    Ok(())
}

pub(super) fn lock_worker(conn: &mut dyn Conn, hostname: &str) -> Result<Worker, StoreError> {
    let sql = format!(
        "SELECT {WORKER_COLUMNS} FROM workers WHERE hostname = $1{}",
        conn.dialect().for_update()
    );
    conn.query_opt(&sql, &[hostname.into()])?
        .map(|row| worker_from(&row))
        .transpose()?
        .ok_or_else(|| not_found("worker", hostname))
}

pub(super) fn device_tags(conn: &mut dyn Conn, hostname: &str) -> Result<Vec<String>, StoreError> {
    conn.query(
        "SELECT tag FROM device_tags WHERE device = $1 ORDER BY tag",
        &[hostname.into()],
    )?
    .iter()
    .map(|row| row.text(0))
    .collect()
}

pub(super) fn lock_device(conn: &mut dyn Conn, hostname: &str) -> Result<Device, StoreError> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE hostname = $1{}",
        conn.dialect().for_update()
    );
    let row = conn
        .query_opt(&sql, &[hostname.into()])?
        .ok_or_else(|| not_found("device", hostname))?;
    let tags = device_tags(conn, hostname)?;
    device_from(&row, tags)
}

pub(super) fn job_tags(conn: &mut dyn Conn, id: i64) -> Result<Vec<String>, StoreError> {
    conn.query(
        "SELECT tag FROM job_tags WHERE job = $1 ORDER BY tag",
        &[id.into()],
    )?
    .iter()
    .map(|row| row.text(0))
    .collect()
}

pub(super) fn lock_job(conn: &mut dyn Conn, id: i64) -> Result<Job, StoreError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1{}",
        conn.dialect().for_update()
    );
    let row = conn
        .query_opt(&sql, &[id.into()])?
        .ok_or_else(|| not_found("job", id))?;
    job_from(conn, &row)
}

/// Lock a job's device (if it has one), then the job: the order of every
/// transition that touches both.
pub(super) fn lock_job_and_device(conn: &mut dyn Conn, id: i64) -> Result<Job, StoreError> {
    let peek = conn
        .query_opt("SELECT actual_device FROM jobs WHERE id = $1", &[id.into()])?
        .ok_or_else(|| not_found("job", id))?;
    if let Some(device) = peek.opt_text(0)? {
        lock_device(conn, &device)?;
    }
    lock_job(conn, id)
}

pub(super) const TEST_CASE_COLUMNS: &str = "c.id, s.job, s.name, t.name, c.name, c.result, c.measurement, c.units, c.metadata, c.start_log_line, c.end_log_line, c.logged";

pub(super) fn test_case_from(row: &Row) -> Result<TestCase, StoreError> {
    Ok(TestCase {
        id: row.int(0)?,
        job: row.int(1)?,
        suite: row.text(2)?,
        set: row.opt_text(3)?,
        name: row.text(4)?,
        result: row.code(5, TestResultCode::from_code, "test result")?,
        measurement: row.opt_text(6)?,
        units: row.text(7)?,
        metadata: row.opt_text(8)?,
        start_log_line: row.opt_int(9)?,
        end_log_line: row.opt_int(10)?,
        logged: row.int(11)?,
    })
}

pub(super) const TRANSITION_COLUMNS: &str =
    "at, object_kind, object, old_value, new_value, actor, reason";

pub(super) fn transition_from(row: &Row) -> Result<Transition, StoreError> {
    Ok(Transition {
        at: row.int(0)?,
        object_kind: row.text(1)?,
        object: row.text(2)?,
        old: row.text(3)?,
        new: row.text(4)?,
        actor: row.text(5)?,
        reason: row.text(6)?,
    })
}

pub(super) fn tag_from(row: &Row) -> Result<Tag, StoreError> {
    Ok(Tag {
        name: row.text(0)?,
        description: row.text(1)?,
    })
}

pub(super) fn device_type_in(conn: &mut dyn Conn, name: &str) -> Result<DeviceType, StoreError> {
    let row = conn
        .query_opt(
            &format!("SELECT {DEVICE_TYPE_COLUMNS} FROM device_types WHERE name = $1"),
            &[name.into()],
        )?
        .ok_or_else(|| not_found("device type", name))?;
    let aliases = conn
        .query(
            "SELECT name FROM aliases WHERE device_type = $1 ORDER BY name",
            &[name.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DeviceType {
        name: row.text(0)?,
        description: row.text(1)?,
        health_frequency: row.int(2)?,
        health_denominator: row.code(3, HealthDenominator::from_code, "health denominator")?,
        health_check_disabled: row.bool(4)?,
        health_check: row.opt_text(5)?,
        aliases,
    })
}

pub(super) fn ensure_tags_exist(conn: &mut dyn Conn, tags: &[String]) -> Result<(), StoreError> {
    for tag in tags {
        if conn
            .query_opt("SELECT name FROM tags WHERE name = $1", &[tag.into()])?
            .is_none()
        {
            return Err(StoreError::NotFound {
                kind: "tag",
                name: tag.clone(),
            });
        }
    }
    Ok(())
}
