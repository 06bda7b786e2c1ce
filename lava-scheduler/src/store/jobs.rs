//! Jobs: submission, queries, assignment, start, cancel, finish, delete.

use super::rows::*;
use super::*;
use crate::db::{Conn, SqlValue};
use crate::error::StoreError;
use crate::model::*;
use crate::state;

/// Store a job inside a transaction; returns its id.
pub(crate) fn insert_job_in(conn: &mut dyn Conn, job: &NewJob) -> Result<i64, StoreError> {
    if !(0..=100).contains(&job.priority) {
        return Err(StoreError::Refused(format!(
            "priority must be within 0..100, not {}",
            job.priority
        )));
    }
    if let Some(device_type) = &job.requested_device_type {
        device_type_in(conn, device_type)?;
    }
    ensure_tags_exist(conn, &job.tags)?;
    let row = conn
        .query_opt(
            "INSERT INTO jobs (submitter, description, definition, original_definition, multinode_definition, requested_device_type, state, health, priority, health_check, target_group, essential, sub_id, submit_time, visibility) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
            &[
                job.submitter.as_str().into(),
                job.description.as_str().into(),
                job.definition.as_str().into(),
                job.original_definition.as_str().into(),
                job.multinode_definition.as_str().into(),
                job.requested_device_type.clone().into(),
                JobState::Submitted.code().into(),
                JobHealth::Unknown.code().into(),
                job.priority.into(),
                job.health_check.into(),
                job.target_group.clone().into(),
                job.essential.into(),
                job.sub_id.as_str().into(),
                now_micros().into(),
                job.visibility.code().into(),
            ],
        )?
        .ok_or_else(|| StoreError::database("INSERT ... RETURNING gave no row"))?;
    let id = row.int(0)?;
    for tag in &job.tags {
        conn.execute(
            "INSERT INTO job_tags (job, tag) VALUES ($1, $2)",
            &[id.into(), tag.into()],
        )?;
    }
    if job.notify {
        conn.execute("INSERT INTO notifications (job) VALUES ($1)", &[id.into()])?;
    }
    if job.visibility == JobVisibility::Group {
        if job.viewing_groups.is_empty() {
            return Err(StoreError::Refused(
                "a group-visible job needs at least one viewing group".into(),
            ));
        }
        for group in &job.viewing_groups {
            let group_id = conn
                .query_opt("SELECT id FROM groups WHERE name = $1", &[group.into()])?
                .ok_or_else(|| not_found("group", group))?
                .int(0)?;
            conn.execute(
                "INSERT INTO job_viewing_groups (job, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[id.into(), group_id.into()],
            )?;
        }
    }
    log::info!(
        "[job {id}] submitted by {} for {}",
        job.submitter,
        job.requested_device_type
            .as_deref()
            .unwrap_or("(no device type)")
    );
    Ok(id)
}

/// The `WHERE` clause of a job query and its parameters. Visibility is
/// [`Job::visible_to`] in SQL: public jobs, the viewer's own, and group jobs
/// none of whose viewing groups the viewer lacks; administrators see all.
fn job_query_where(query: &JobQuery) -> (String, Vec<SqlValue>) {
    let mut clause = String::from("1 = 1");
    let mut params: Vec<SqlValue> = Vec::new();
    let mark = |params: &mut Vec<SqlValue>, value: SqlValue| {
        params.push(value);
        format!("${}", params.len())
    };
    match &query.viewer {
        Viewer::Anonymous => clause.push_str(&format!(
            " AND visibility = {}",
            JobVisibility::Public.code()
        )),
        Viewer::User {
            superuser: true, ..
        } => {}
        Viewer::User { name, .. } => {
            let user = mark(&mut params, name.as_str().into());
            clause.push_str(&format!(
                " AND (visibility = {public} OR submitter = {user} OR (visibility = {group} AND NOT EXISTS (\
                 SELECT 1 FROM job_viewing_groups v WHERE v.job = jobs.id AND v.group_id NOT IN (\
                 SELECT group_id FROM user_groups WHERE username = {user}))))",
                public = JobVisibility::Public.code(),
                group = JobVisibility::Group.code(),
            ));
        }
    }
    let mut list = |params: &mut Vec<SqlValue>, column: &str, values: Vec<SqlValue>| {
        if !values.is_empty() {
            let marks: Vec<String> = values.into_iter().map(|v| mark(params, v)).collect();
            clause.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
        }
    };
    list(
        &mut params,
        "id",
        query.ids.iter().map(|&i| i.into()).collect(),
    );
    list(
        &mut params,
        "state",
        query.states.iter().map(|s| s.code().into()).collect(),
    );
    list(
        &mut params,
        "health",
        query.healths.iter().map(|h| h.code().into()).collect(),
    );
    let mut compare =
        |params: &mut Vec<SqlValue>, column: &str, op: &str, value: Option<SqlValue>| {
            if let Some(value) = value {
                let m = mark(params, value);
                clause.push_str(&format!(" AND {column} {op} {m}"));
            }
        };
    compare(&mut params, "id", ">", query.id_gt.map(Into::into));
    compare(
        &mut params,
        "submitter",
        "=",
        query.submitter.clone().map(Into::into),
    );
    compare(
        &mut params,
        "requested_device_type",
        "=",
        query.device_type.clone().map(Into::into),
    );
    compare(
        &mut params,
        "actual_device",
        "=",
        query.device.clone().map(Into::into),
    );
    compare(
        &mut params,
        "health_check",
        "=",
        query.health_check.map(Into::into),
    );
    compare(
        &mut params,
        "submit_time",
        ">",
        query.submit_time_gt.map(Into::into),
    );
    compare(
        &mut params,
        "start_time",
        ">",
        query.start_time_gt.map(Into::into),
    );
    compare(
        &mut params,
        "end_time",
        ">",
        query.end_time_gt.map(Into::into),
    );
    (clause, params)
}

/// Multinode, at the group transition (docs/multinode.md §3): write
/// `protocols.lava-multinode.roles` = `{"<job id>": role}` over the
/// sub-jobs that have a device into every sub-job's stored definition.
/// Sub-jobs whose definition is not one the split made are left alone.
pub(crate) fn write_group_roles(conn: &mut dyn Conn, target_group: &str) -> Result<(), StoreError> {
    let rows = conn.query(
        "SELECT id, definition, actual_device FROM jobs WHERE target_group = $1 ORDER BY id",
        &[target_group.into()],
    )?;
    let mut members = Vec::new();
    for row in &rows {
        let id = row.int(0)?;
        let definition = row.text(1)?;
        let device = row.opt_text(2)?;
        if let Some(member) = crate::multinode::member(&definition) {
            members.push((id, definition, device, member.role));
        }
    }
    let device_roles: Vec<(i64, String)> = members
        .iter()
        .filter(|(_, _, device, _)| device.is_some())
        .map(|(id, _, _, role)| (*id, role.clone()))
        .collect();
    let roles = crate::multinode::roles_map(&device_roles);
    for (id, definition, _, _) in &members {
        let text = crate::multinode::with_protocol_key(definition, "roles", roles.clone())
            .map_err(|e| StoreError::Corrupt(format!("job {id}: {e}")))?;
        conn.execute(
            "UPDATE jobs SET definition = $1 WHERE id = $2",
            &[text.as_str().into(), (*id).into()],
        )?;
    }
    if !members.is_empty() {
        log::info!(
            "[group {target_group}] roles written into {} sub-jobs",
            members.len()
        );
    }
    Ok(())
}

/// Give many queued single-node jobs their devices in one transaction,
/// with set-based guarded updates: a device is only reserved while Idle and
/// Good or Unknown, a job only scheduled while Submitted without a device.
/// Pairs whose guard fails are left alone (a device reserved for a job that
/// lost its race is released again). Returns the pairs applied.
pub(crate) fn assign_batch(
    conn: &mut dyn Conn,
    pairs: &[(i64, String)],
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut applied = Vec::new();
    for chunk in pairs.chunks(500) {
        let values = |first: usize, params: &mut Vec<SqlValue>, rows: &[(i64, String)]| -> String {
            rows.iter()
                .enumerate()
                .map(|(i, (job, device))| {
                    params.push(device.as_str().into());
                    params.push((*job).into());
                    let n = first + 2 * i;
                    format!("(CAST(${n} AS TEXT), CAST(${} AS BIGINT))", n + 1)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut params: Vec<SqlValue> = vec![
            DeviceState::Reserved.code().into(),
            DeviceState::Idle.code().into(),
            DeviceHealth::Good.code().into(),
            DeviceHealth::Unknown.code().into(),
        ];
        let list = values(5, &mut params, chunk);
        let reserved: Vec<String> = conn
            .query(
                &format!(
                    "WITH v(device, job) AS (VALUES {list}) \
                     UPDATE devices SET state = $1, current_job = v.job FROM v \
                     WHERE devices.hostname = v.device AND devices.state = $2 AND devices.health IN ($3, $4) \
                     RETURNING devices.hostname"
                ),
                &params,
            )?
            .iter()
            .map(|row| row.text(0))
            .collect::<Result<_, _>>()?;
        let candidates: Vec<(i64, String)> = chunk
            .iter()
            .filter(|(_, d)| reserved.contains(d))
            .cloned()
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let mut params: Vec<SqlValue> = vec![
            JobState::Scheduled.code().into(),
            JobState::Submitted.code().into(),
        ];
        let list = values(3, &mut params, &candidates);
        let scheduled: Vec<i64> = conn
            .query(
                &format!(
                    "WITH v(device, job) AS (VALUES {list}) \
                     UPDATE jobs SET state = $1, actual_device = v.device FROM v \
                     WHERE jobs.id = v.job AND jobs.state = $2 AND jobs.actual_device IS NULL AND jobs.target_group IS NULL \
                     RETURNING jobs.id"
                ),
                &params,
            )?
            .iter()
            .map(|row| row.int(0))
            .collect::<Result<_, _>>()?;
        for (job, device) in candidates {
            if scheduled.contains(&job) {
                log::info!("[job {job}] → Scheduled on {device}");
                applied.push((job, device));
            } else {
                conn.execute(
                    "UPDATE devices SET state = $1, current_job = NULL WHERE hostname = $2 AND current_job = $3",
                    &[DeviceState::Idle.code().into(), device.as_str().into(), job.into()],
                )?;
            }
        }
    }
    Ok(applied)
}

/// Give a Submitted job a device inside a transaction (guarded): the job
/// becomes Scheduled (Scheduling for a multinode sub-job), the Idle device
/// Reserved. Returns the job's new state.
pub(crate) fn assign_in(
    conn: &mut dyn Conn,
    job_id: i64,
    hostname: &str,
) -> Result<JobState, StoreError> {
    // Device first, then job.
    let device = lock_device(conn, hostname)?;
    let job = lock_job(conn, job_id)?;
    let target = if job.target_group.is_some() {
        JobState::Scheduling
    } else {
        JobState::Scheduled
    };
    if job.state != JobState::Submitted {
        return Err(StoreError::InvalidTransition {
            object: format!("job {job_id}"),
            from: job.state.to_string(),
            to: target.to_string(),
        });
    }
    if device.state != DeviceState::Idle {
        return Err(StoreError::InvalidTransition {
            object: format!("device {hostname}"),
            from: device.state.to_string(),
            to: DeviceState::Reserved.to_string(),
        });
    }
    let allowed: &[DeviceHealth] = if job.health_check {
        &state::SCHEDULABLE_FOR_HEALTH_CHECKS
    } else {
        &state::SCHEDULABLE_FOR_JOBS
    };
    if !allowed.contains(&device.health) {
        return Err(StoreError::Refused(format!(
            "device {hostname} is {} and cannot take job {job_id}",
            device.health
        )));
    }
    conn.execute(
        "UPDATE devices SET state = $1, current_job = $2 WHERE hostname = $3 AND state = $4",
        &[
            DeviceState::Reserved.code().into(),
            job_id.into(),
            hostname.into(),
            DeviceState::Idle.code().into(),
        ],
    )?;
    let changed = conn.execute(
        "UPDATE jobs SET state = $1, actual_device = $2 WHERE id = $3 AND state = $4",
        &[
            target.code().into(),
            hostname.into(),
            job_id.into(),
            JobState::Submitted.code().into(),
        ],
    )?;
    if changed != 1 {
        return Err(StoreError::InvalidTransition {
            object: format!("job {job_id}"),
            from: job.state.to_string(),
            to: target.to_string(),
        });
    }
    log::info!("[job {job_id}] → {target} on {hostname}");
    Ok(target)
}

impl SqlStore {
    /// Finish a job inside a transaction (shared by finish and cancel).
    fn finish_in(
        conn: &mut dyn Conn,
        job: &Job,
        health: JobHealth,
        infrastructure_error: bool,
        failure_comment: Option<&str>,
        actor: &str,
    ) -> Result<JobHealth, StoreError> {
        if health == JobHealth::Unknown {
            return Err(StoreError::Refused(format!(
                "job {}: cannot finish with health Unknown",
                job.id
            )));
        }
        let final_health = state::finished_health(job.state, health);
        let comment = match (&job.failure_comment, failure_comment) {
            (Some(old), Some(new)) => Some(format!("{old}\n{new}")),
            (old, new) => new.map(str::to_string).or_else(|| old.clone()),
        };
        let changed = conn.execute(
            "UPDATE jobs SET state = $1, health = $2, end_time = $3, failure_comment = $4, infrastructure_error = $5 WHERE id = $6 AND state = $7",
            &[
                JobState::Finished.code().into(),
                final_health.code().into(),
                now_micros().into(),
                comment.into(),
                infrastructure_error.into(),
                job.id.into(),
                job.state.code().into(),
            ],
        )?;
        if changed != 1 {
            return Err(StoreError::InvalidTransition {
                object: format!("job {}", job.id),
                from: job.state.to_string(),
                to: JobState::Finished.to_string(),
            });
        }
        log::info!(
            "[job {}] {} → Finished ({final_health}) by {actor}",
            job.id,
            job.state
        );
        if let Some(hostname) = &job.actual_device {
            let device = lock_device(conn, hostname)?;
            if device.current_job == Some(job.id) {
                conn.execute(
                    "UPDATE devices SET state = $1, current_job = NULL WHERE hostname = $2",
                    &[DeviceState::Idle.code().into(), hostname.into()],
                )?;
            }
            if job.health_check {
                conn.execute(
                    "UPDATE devices SET last_health_report_job = $1 WHERE hostname = $2",
                    &[job.id.into(), hostname.into()],
                )?;
                match state::health_check_outcome(device.health, final_health) {
                    Some(new) => {
                        let verdict = if new == DeviceHealth::Good {
                            "passed"
                        } else {
                            "failed"
                        };
                        let reason = format!("health-check [{}] {verdict}", job.id);
                        change_device_health(
                            conn,
                            hostname,
                            device.health,
                            new,
                            "lava-health",
                            &reason,
                        )?;
                    }
                    None if device.health == DeviceHealth::Looping
                        && final_health != JobHealth::Complete =>
                    {
                        log::warn!(
                            "[device {hostname}] Looping health-check [{}] failed",
                            job.id
                        );
                    }
                    None => {}
                }
            } else if infrastructure_error {
                if let Some(new) = state::infrastructure_error_outcome(device.health) {
                    let reason = format!("job [{}] ended with an infrastructure error", job.id);
                    change_device_health(
                        conn,
                        hostname,
                        device.health,
                        new,
                        "lava-health",
                        &reason,
                    )?;
                }
            }
        }
        Ok(final_health)
    }

    /// Move one job to Canceling (guarded). Returns whether it changed.
    fn to_canceling(conn: &mut dyn Conn, id: i64) -> Result<bool, StoreError> {
        let changed = conn.execute(
            "UPDATE jobs SET state = $1 WHERE id = $2 AND state IN ($3, $4, $5)",
            &[
                JobState::Canceling.code().into(),
                id.into(),
                JobState::Scheduling.code().into(),
                JobState::Scheduled.code().into(),
                JobState::Running.code().into(),
            ],
        )?;
        if changed == 1 {
            log::info!("[job {id}] → Canceling");
        }
        Ok(changed == 1)
    }

    /// Cancel one job inside a transaction.
    pub(super) fn cancel_one(
        conn: &mut dyn Conn,
        id: i64,
        actor: &str,
    ) -> Result<Option<bool>, StoreError> {
        let job = lock_job(conn, id)?;
        match job.state {
            JobState::Submitted => {
                Self::finish_in(conn, &job, JobHealth::Canceled, false, None, actor)?;
                Ok(Some(false))
            }
            JobState::Scheduling | JobState::Scheduled | JobState::Running => {
                Ok(Some(Self::to_canceling(conn, id)?))
            }
            JobState::Canceling | JobState::Finished => Ok(None),
        }
    }

    /// Store a job (state Submitted); returns its id. Validation is the
    /// caller's.
    pub fn insert_job(&self, job: &NewJob) -> Result<i64, StoreError> {
        self.tx(|conn| insert_job_in(conn, job))
    }

    /// Store the sub-jobs of a multinode group in one transaction (state
    /// Submitted), in order; each gets sub_id `"<first id>.<index>"`.
    /// Returns `(id, sub_id)` per job. Validation is the caller's.
    pub fn insert_group(&self, jobs: &[NewJob]) -> Result<Vec<(i64, String)>, StoreError> {
        if jobs.is_empty() {
            return Err(StoreError::Refused(
                "a multinode group needs at least one job".into(),
            ));
        }
        self.tx(|conn| {
            let mut out = Vec::with_capacity(jobs.len());
            let mut first = None;
            for (k, job) in jobs.iter().enumerate() {
                let id = insert_job_in(conn, job)?;
                let parent = *first.get_or_insert(id);
                let sub_id = format!("{parent}.{k}");
                conn.execute(
                    "UPDATE jobs SET sub_id = $1 WHERE id = $2",
                    &[sub_id.as_str().into(), id.into()],
                )?;
                out.push((id, sub_id));
            }
            log::info!(
                "[job {}] multinode group {} of {} jobs",
                out[0].0,
                jobs[0].target_group.as_deref().unwrap_or("-"),
                out.len()
            );
            Ok(out)
        })
    }

    /// The jobs of a multinode group, by id.
    pub fn group_jobs(&self, target_group: &str) -> Result<Vec<Job>, StoreError> {
        self.tx(|conn| {
            let rows = conn.query(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE target_group = $1 ORDER BY id"),
                &[target_group.into()],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(job_from(conn, row)?);
            }
            Ok(out)
        })
    }

    /// One job.
    pub fn job(&self, id: i64) -> Result<Job, StoreError> {
        self.tx(|conn| {
            let row = conn
                .query_opt(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                    &[id.into()],
                )?
                .ok_or_else(|| not_found("job", id))?;
            job_from(conn, &row)
        })
    }

    /// The job named by `number`: by id, or a multinode sub-job by its
    /// sub_id (as LAVA's `get_by_job_number`).
    pub fn job_by_number(&self, number: &JobNumber) -> Result<Job, StoreError> {
        let sub_id = match number {
            JobNumber::Id(id) => return self.job(*id),
            JobNumber::SubId(sub_id) => sub_id,
        };
        self.tx(|conn| {
            let row = conn
                .query_opt(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE sub_id = $1"),
                    &[sub_id.as_str().into()],
                )?
                .ok_or_else(|| not_found("job", sub_id))?;
            job_from(conn, &row)
        })
    }

    /// Jobs matching a filter, newest first.
    pub fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        self.tx(|conn| {
            let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1");
            let mut params: Vec<SqlValue> = Vec::new();
            if !filter.states.is_empty() {
                let marks: Vec<String> = filter
                    .states
                    .iter()
                    .map(|s| {
                        params.push(s.code().into());
                        format!("${}", params.len())
                    })
                    .collect();
                sql.push_str(&format!(" AND state IN ({})", marks.join(", ")));
            }
            if let Some(device_type) = &filter.device_type {
                params.push(device_type.into());
                sql.push_str(&format!(" AND requested_device_type = ${}", params.len()));
            }
            sql.push_str(" ORDER BY id DESC");
            if let Some(limit) = filter.limit {
                params.push(limit.into());
                sql.push_str(&format!(" LIMIT ${}", params.len()));
            }
            let rows = conn.query(&sql, &params)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(job_from(conn, row)?);
            }
            Ok(out)
        })
    }

    /// A page of jobs: filters, visibility, order, offset and limit.
    pub fn query_jobs(&self, query: &JobQuery) -> Result<JobPage, StoreError> {
        self.tx(|conn| {
            let (clause, mut params) = job_query_where(query);
            let count = conn
                .query_opt(&format!("SELECT COUNT(*) FROM jobs WHERE {clause}"), &params)?
                .map(|row| row.int(0))
                .transpose()?
                .unwrap_or(0);
            let order = match query.order {
                JobOrder::IdDescending => "id DESC",
                JobOrder::IdAscending => "id ASC",
            };
            params.push(query.limit.max(0).into());
            let limit = params.len();
            params.push(query.offset.max(0).into());
            let offset = params.len();
            let rows = conn.query(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {clause} ORDER BY {order} LIMIT ${limit} OFFSET ${offset}"),
                &params,
            )?;
            let mut jobs = Vec::with_capacity(rows.len());
            for row in &rows {
                jobs.push(job_from(conn, row)?);
            }
            Ok(JobPage { count, jobs })
        })
    }

    /// Give a Submitted job a device: the job becomes Scheduled (Scheduling
    /// for a multinode sub-job) and the Idle device Reserved, in one guarded
    /// transaction.
    pub fn assign_job(&self, job_id: i64, hostname: &str) -> Result<(), StoreError> {
        self.tx(|conn| assign_in(conn, job_id, hostname).map(|_| ()))
    }

    /// Jobs in one of `states` whose device is attached to worker `hostname`,
    /// oldest first.
    pub fn jobs_on_worker(
        &self,
        hostname: &str,
        states: &[JobState],
    ) -> Result<Vec<Job>, StoreError> {
        self.tx(|conn| {
            let rows = conn.query(
                &format!(
                    "SELECT {} FROM jobs j JOIN devices d ON d.hostname = j.actual_device WHERE d.worker = $1 ORDER BY j.id",
                    JOB_COLUMNS.split(", ").map(|c| format!("j.{c}")).collect::<Vec<_>>().join(", ")
                ),
                &[hostname.into()],
            )?;
            let mut out = Vec::new();
            for row in &rows {
                let job = job_from(conn, row)?;
                if states.contains(&job.state) {
                    out.push(job);
                }
            }
            Ok(out)
        })
    }

    /// Multinode: when every sub-job of the group is Scheduling, move them
    /// all to Scheduled. Returns the ids moved (empty when not complete).
    pub fn group_scheduled(&self, target_group: &str) -> Result<Vec<i64>, StoreError> {
        self.tx(|conn| {
            let sql = format!(
                "SELECT id, state FROM jobs WHERE target_group = $1 ORDER BY id{}",
                conn.dialect().for_update()
            );
            let rows = conn.query(&sql, &[target_group.into()])?;
            let mut ids = Vec::new();
            for row in &rows {
                if row.code(1, JobState::from_code, "job state")? != JobState::Scheduling {
                    return Ok(Vec::new());
                }
                ids.push(row.int(0)?);
            }
            for id in &ids {
                conn.execute(
                    "UPDATE jobs SET state = $1 WHERE id = $2 AND state = $3",
                    &[
                        JobState::Scheduled.code().into(),
                        (*id).into(),
                        JobState::Scheduling.code().into(),
                    ],
                )?;
            }
            write_group_roles(conn, target_group)?;
            Ok(ids)
        })
    }

    /// START_OK: a Scheduled job runs; its device becomes Running. Returns
    /// false when the job was already Running or beyond (a duplicate).
    pub fn job_started(&self, job_id: i64) -> Result<bool, StoreError> {
        self.tx(|conn| {
            let job = lock_job_and_device(conn, job_id)?;
            match job.state {
                JobState::Scheduled => {}
                JobState::Running | JobState::Canceling | JobState::Finished => return Ok(false),
                other => {
                    return Err(StoreError::InvalidTransition {
                        object: format!("job {job_id}"),
                        from: other.to_string(),
                        to: JobState::Running.to_string(),
                    })
                }
            }
            conn.execute(
                "UPDATE jobs SET state = $1, start_time = $2 WHERE id = $3 AND state = $4",
                &[
                    JobState::Running.code().into(),
                    now_micros().into(),
                    job_id.into(),
                    JobState::Scheduled.code().into(),
                ],
            )?;
            if let Some(device) = &job.actual_device {
                conn.execute(
                    "UPDATE devices SET state = $1 WHERE hostname = $2 AND current_job = $3",
                    &[
                        DeviceState::Running.code().into(),
                        device.into(),
                        job_id.into(),
                    ],
                )?;
            }
            log::info!("[job {job_id}] → Running");
            Ok(true)
        })
    }

    /// Cancel a job (and its multinode group).
    pub fn cancel_job(&self, job_id: i64, actor: &str) -> Result<CancelOutcome, StoreError> {
        self.tx(|conn| {
            let row = conn
                .query_opt(
                    "SELECT actual_device, state, target_group FROM jobs WHERE id = $1",
                    &[job_id.into()],
                )?
                .ok_or_else(|| not_found("job", job_id))?;
            let state = row.code(1, JobState::from_code, "job state")?;
            let group = row.opt_text(2)?;
            let ids: Vec<(i64, Option<String>)> = match &group {
                Some(group) => conn
                    .query(
                        "SELECT id, actual_device FROM jobs WHERE target_group = $1 ORDER BY id",
                        &[group.into()],
                    )?
                    .iter()
                    .map(|r| Ok((r.int(0)?, r.opt_text(1)?)))
                    .collect::<Result<_, StoreError>>()?,
                None => vec![(job_id, row.opt_text(0)?)],
            };
            // Lock devices first, then jobs.
            for (_, device) in &ids {
                if let Some(device) = device {
                    lock_device(conn, device)?;
                }
            }
            let mut canceling = Vec::new();
            let mut canceled_queued = false;
            for (id, _) in &ids {
                match Self::cancel_one(conn, *id, actor)? {
                    Some(true) => canceling.push(*id),
                    Some(false) => canceled_queued |= *id == job_id,
                    None => {}
                }
            }
            if !canceling.is_empty() {
                Ok(CancelOutcome::Canceling(canceling))
            } else if canceled_queued {
                Ok(CancelOutcome::Canceled)
            } else {
                Ok(CancelOutcome::AlreadyEnding(state))
            }
        })
    }

    /// Finish a job: device Idle, health rules applied (health checks set
    /// the device Good or Bad; infrastructure errors send it to Unknown),
    /// essential multinode failures cancel the group. A Canceling job always
    /// ends Canceled.
    pub fn finish_job(
        &self,
        job_id: i64,
        health: JobHealth,
        infrastructure_error: bool,
        failure_comment: Option<&str>,
        actor: &str,
    ) -> Result<Job, StoreError> {
        self.tx(|conn| {
            let job = lock_job_and_device(conn, job_id)?;
            if job.state == JobState::Finished {
                return Err(StoreError::InvalidTransition {
                    object: format!("job {job_id}"),
                    from: job.state.to_string(),
                    to: JobState::Finished.to_string(),
                });
            }
            let final_health = Self::finish_in(
                conn,
                &job,
                health,
                infrastructure_error,
                failure_comment,
                actor,
            )?;
            if job.essential && final_health == JobHealth::Incomplete {
                if let Some(group) = &job.target_group {
                    let others = conn.query(
                        "SELECT id FROM jobs WHERE target_group = $1 AND id <> $2 ORDER BY id",
                        &[group.into(), job_id.into()],
                    )?;
                    let name = if job.sub_id.is_empty() {
                        job_id.to_string()
                    } else {
                        format!("{job_id} ({})", job.sub_id)
                    };
                    let why =
                        format!("canceled: the essential multinode job {name} ended Incomplete");
                    for row in &others {
                        let id = row.int(0)?;
                        if Self::to_canceling(conn, id)? {
                            conn.execute(
                                "UPDATE jobs SET failure_comment = $1 WHERE id = $2",
                                &[why.as_str().into(), id.into()],
                            )?;
                            log::info!("[job {id}] {why}");
                        } else {
                            // still queued: it ends Canceled now
                            let other = lock_job(conn, id)?;
                            if other.state == JobState::Submitted {
                                Self::finish_in(
                                    conn,
                                    &other,
                                    JobHealth::Canceled,
                                    false,
                                    Some(&why),
                                    "lava-master",
                                )?;
                            }
                        }
                    }
                }
            }
            lock_job(conn, job_id)
        })
    }

    /// Delete a job and its results. A job that is not Finished is first
    /// finished as Canceled with an infrastructure error, releasing its
    /// device (docs/scheduler.md §2.6, path 5). Returns the job as it was.
    pub fn delete_job(&self, job_id: i64, actor: &str) -> Result<Job, StoreError> {
        self.tx(|conn| {
            let job = lock_job_and_device(conn, job_id)?;
            if job.state != JobState::Finished {
                Self::finish_in(conn, &job, JobHealth::Canceled, true, Some("job deleted"), actor)?;
            }
            conn.execute(
                "UPDATE devices SET last_health_report_job = NULL WHERE last_health_report_job = $1",
                &[job_id.into()],
            )?;
            conn.execute("DELETE FROM jobs WHERE id = $1", &[job_id.into()])?;
            log::info!("[job {job_id}] deleted by {actor}");
            Ok(job)
        })
    }
}
