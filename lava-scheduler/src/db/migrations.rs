//! Versioned schema migrations, applied when a database is opened.
//!
//! Each migration is one SQL script, written once for both backends (`{id}`
//! stands for the auto-increment primary key, the only difference that
//! matters here). The table `lava_schema` records the version. Opening is
//! idempotent, concurrent openers serialise on a lock, and a database whose
//! version is newer than [`LATEST`] is refused, so that an old binary never
//! writes into a schema it does not understand.

use super::{Conn, Database, Dialect, SqlValue};
use crate::error::StoreError;

/// The schema scripts, in order; the version of script `i` is `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the model of docs/scheduler.md §1.
    r#"
CREATE TABLE workers (
    hostname TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    state BIGINT NOT NULL DEFAULT 1,
    health BIGINT NOT NULL DEFAULT 0,
    last_ping BIGINT,
    job_limit BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE device_types (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    health_frequency BIGINT NOT NULL DEFAULT 24,
    health_denominator BIGINT NOT NULL DEFAULT 0,
    health_check_disabled BOOLEAN NOT NULL DEFAULT FALSE,
    health_check TEXT
);
CREATE TABLE aliases (
    name TEXT PRIMARY KEY,
    device_type TEXT NOT NULL REFERENCES device_types(name) ON DELETE CASCADE
);
CREATE TABLE tags (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE devices (
    hostname TEXT PRIMARY KEY,
    device_type TEXT NOT NULL REFERENCES device_types(name),
    worker TEXT REFERENCES workers(hostname) ON DELETE SET NULL,
    description TEXT NOT NULL DEFAULT '',
    state BIGINT NOT NULL DEFAULT 0,
    health BIGINT NOT NULL DEFAULT 4,
    dictionary TEXT,
    current_job BIGINT,
    last_health_report_job BIGINT
);
CREATE INDEX devices_by_type ON devices(device_type, state, health);
CREATE TABLE device_tags (
    device TEXT NOT NULL REFERENCES devices(hostname) ON DELETE CASCADE,
    tag TEXT NOT NULL REFERENCES tags(name) ON DELETE CASCADE,
    PRIMARY KEY (device, tag)
);
CREATE TABLE jobs (
    id {id},
    submitter TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    definition TEXT NOT NULL,
    original_definition TEXT NOT NULL,
    multinode_definition TEXT NOT NULL DEFAULT '',
    requested_device_type TEXT REFERENCES device_types(name),
    actual_device TEXT REFERENCES devices(hostname),
    state BIGINT NOT NULL DEFAULT 0,
    health BIGINT NOT NULL DEFAULT 0,
    priority BIGINT NOT NULL DEFAULT 50,
    health_check BOOLEAN NOT NULL DEFAULT FALSE,
    target_group TEXT,
    essential BOOLEAN NOT NULL DEFAULT FALSE,
    sub_id TEXT NOT NULL DEFAULT '',
    submit_time BIGINT NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    failure_comment TEXT,
    infrastructure_error BOOLEAN NOT NULL DEFAULT FALSE,
    pipeline_compatibility BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_queue ON jobs(state, requested_device_type, priority);
CREATE INDEX jobs_by_device ON jobs(actual_device, state);
CREATE TABLE job_tags (
    job BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    tag TEXT NOT NULL REFERENCES tags(name),
    PRIMARY KEY (job, tag)
);
CREATE TABLE test_suites (
    id {id},
    job BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    UNIQUE (job, name)
);
CREATE TABLE test_sets (
    id {id},
    suite BIGINT NOT NULL REFERENCES test_suites(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    UNIQUE (suite, name)
);
CREATE TABLE test_cases (
    id {id},
    suite BIGINT NOT NULL REFERENCES test_suites(id) ON DELETE CASCADE,
    test_set BIGINT REFERENCES test_sets(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    result BIGINT NOT NULL,
    measurement TEXT,
    units TEXT NOT NULL DEFAULT '',
    metadata TEXT,
    start_log_line BIGINT,
    end_log_line BIGINT,
    logged BIGINT NOT NULL
);
CREATE INDEX test_cases_by_suite ON test_cases(suite);
CREATE TABLE transitions (
    id {id},
    at BIGINT NOT NULL,
    object_kind TEXT NOT NULL,
    object TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX transitions_by_object ON transitions(object_kind, object);
"#,
    // 2: accounts (users, groups, API tokens) and job visibility, for the
    // HTTP service (docs/api.md in the repository).
    r#"
CREATE TABLE users (
    username TEXT PRIMARY KEY,
    email TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    date_joined BIGINT NOT NULL
);
CREATE TABLE groups (
    id {id},
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE user_groups (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (username, group_id)
);
CREATE TABLE tokens (
    id {id},
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    digest TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    last_used BIGINT
);
ALTER TABLE jobs ADD COLUMN visibility BIGINT NOT NULL DEFAULT 0;
CREATE TABLE job_viewing_groups (
    job BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups(id),
    PRIMARY KEY (job, group_id)
);
CREATE INDEX jobs_by_submitter ON jobs(submitter);
"#,
    // 3: job-end notifications waiting to be sent (docs/api.md,
    // "Notifications"): one row per job with a `notify` block.
    r#"
CREATE TABLE notifications (
    job BIGINT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    done BOOLEAN NOT NULL DEFAULT FALSE,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL DEFAULT 0,
    sent TEXT NOT NULL DEFAULT '',
    last_error TEXT
);
CREATE INDEX notifications_pending ON notifications(done, next_attempt);
"#,
    // 4: web UI sessions (docs/web.md in the repository): the cookie's
    // digest, never the cookie itself.
    r#"
CREATE TABLE sessions (
    digest TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions(expires);
"#,
    // 5: multinode sub-jobs looked up by sub_id (`12.1`, docs/multinode.md
    // §5) and by group.
    r#"
CREATE INDEX jobs_by_sub_id ON jobs(sub_id);
CREATE INDEX jobs_by_group ON jobs(target_group);
"#,
    // 6: events (docs/metrics.md, "Events"): a row per job, device or
    // worker state or health change, appended by triggers in the
    // transaction that makes the change, whichever process makes it; the
    // master publishes them in id order and prunes the table. And the
    // master's own metrics, for the HTTP service's /metrics.
    r#"
CREATE TABLE events (
    id {id},
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    state BIGINT NOT NULL,
    health BIGINT NOT NULL,
    device TEXT,
    job BIGINT,
    start_time BIGINT,
    end_time BIGINT,
    xid BIGINT
);
CREATE TABLE master_metrics (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated BIGINT NOT NULL
);
{event_triggers}
"#,
];

/// Migration 6's triggers in SQLite's dialect: one per table and kind of
/// change (a new job is an event, as in LAVA; new devices and workers are
/// not).
const SQLITE_EVENT_TRIGGERS: &str = r#"
CREATE TRIGGER events_job_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO events (at, kind, name, state, health, device, job, start_time, end_time)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), 'testjob', CAST(NEW.id AS TEXT),
            NEW.state, NEW.health, NEW.actual_device, NEW.id, NEW.start_time, NEW.end_time);
END;
CREATE TRIGGER events_job_update AFTER UPDATE OF state, health ON jobs
WHEN OLD.state IS NOT NEW.state OR OLD.health IS NOT NEW.health BEGIN
    INSERT INTO events (at, kind, name, state, health, device, job, start_time, end_time)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), 'testjob', CAST(NEW.id AS TEXT),
            NEW.state, NEW.health, NEW.actual_device, NEW.id, NEW.start_time, NEW.end_time);
END;
CREATE TRIGGER events_device_update AFTER UPDATE OF state, health ON devices
WHEN OLD.state IS NOT NEW.state OR OLD.health IS NOT NEW.health BEGIN
    INSERT INTO events (at, kind, name, state, health, job)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), 'device', NEW.hostname,
            NEW.state, NEW.health, NEW.current_job);
END;
CREATE TRIGGER events_worker_update AFTER UPDATE OF state, health ON workers
WHEN OLD.state IS NOT NEW.state OR OLD.health IS NOT NEW.health BEGIN
    INSERT INTO events (at, kind, name, state, health)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), 'worker', NEW.hostname,
            NEW.state, NEW.health);
END;
"#;

/// Migration 6's triggers in PostgreSQL's dialect. Each row also records
/// its transaction's id, which the publisher needs to tell a gap left by a
/// transaction still in progress from one left by a rollback. Each
/// function keeps the search_path it was created with (the store's
/// schema), so that `events` is the store's table whatever the search_path
/// of the session making the change.
const POSTGRES_EVENT_TRIGGERS: &str = r#"
CREATE FUNCTION lava_job_event() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM NEW.state OR OLD.health IS DISTINCT FROM NEW.health THEN
        INSERT INTO events (at, kind, name, state, health, device, job, start_time, end_time, xid)
        VALUES ((EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT, 'testjob', NEW.id::TEXT,
                NEW.state, NEW.health, NEW.actual_device, NEW.id, NEW.start_time, NEW.end_time, txid_current());
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql SET search_path FROM CURRENT;
CREATE FUNCTION lava_device_event() RETURNS trigger AS $$
BEGIN
    IF OLD.state IS DISTINCT FROM NEW.state OR OLD.health IS DISTINCT FROM NEW.health THEN
        INSERT INTO events (at, kind, name, state, health, job, xid)
        VALUES ((EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT, 'device', NEW.hostname,
                NEW.state, NEW.health, NEW.current_job, txid_current());
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql SET search_path FROM CURRENT;
CREATE FUNCTION lava_worker_event() RETURNS trigger AS $$
BEGIN
    IF OLD.state IS DISTINCT FROM NEW.state OR OLD.health IS DISTINCT FROM NEW.health THEN
        INSERT INTO events (at, kind, name, state, health, xid)
        VALUES ((EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT, 'worker', NEW.hostname,
                NEW.state, NEW.health, txid_current());
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql SET search_path FROM CURRENT;
CREATE TRIGGER events_job AFTER INSERT OR UPDATE OF state, health ON jobs
    FOR EACH ROW EXECUTE PROCEDURE lava_job_event();
CREATE TRIGGER events_device AFTER UPDATE OF state, health ON devices
    FOR EACH ROW EXECUTE PROCEDURE lava_device_event();
CREATE TRIGGER events_worker AFTER UPDATE OF state, health ON workers
    FOR EACH ROW EXECUTE PROCEDURE lava_worker_event();
"#;

/// The newest schema version this program knows.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

fn script(dialect: Dialect, sql: &str) -> String {
    let id = match dialect {
        Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
        Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    let triggers = match dialect {
        Dialect::Postgres => POSTGRES_EVENT_TRIGGERS,
        Dialect::Sqlite => SQLITE_EVENT_TRIGGERS,
    };
    sql.replace("{id}", id)
        .replace("{event_triggers}", triggers)
}

/// The schema version of the database (0 for an empty one).
pub fn version(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    conn.batch("CREATE TABLE IF NOT EXISTS lava_schema (version BIGINT NOT NULL)")?;
    Ok(conn
        .query_opt("SELECT MAX(version) FROM lava_schema", &[])?
        .map(|row| row.opt_int(0))
        .transpose()?
        .flatten()
        .unwrap_or(0))
}

/// Bring the schema to [`LATEST`], in one transaction.
pub fn apply(db: &Database) -> Result<(), StoreError> {
    let dialect = db.dialect();
    db.transaction(|conn| {
        if dialect == Dialect::Postgres {
            // Serialise concurrent openers (two daemons starting together).
            conn.execute("SELECT pg_advisory_xact_lock(7274697)", &[])?;
        }
        let current = version(conn)?;
        if current > LATEST {
            return Err(StoreError::SchemaTooNew {
                found: current,
                known: LATEST,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let target = index as i64 + 1;
            log::info!("applying database migration {target}");
            conn.batch(&script(dialect, sql))?;
            conn.execute("DELETE FROM lava_schema", &[])?;
            conn.execute(
                "INSERT INTO lava_schema (version) VALUES ($1)",
                &[SqlValue::Int(target)],
            )?;
        }
        Ok(())
    })
}
