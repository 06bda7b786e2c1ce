//! The worker's own job table, in SQLite, so that a restarted lava-slave
//! finds the jobs it was running and the ENDs it still owes the master.
//!
//! The table keeps LAVA 2020.01's layout (`jobs(id, pid, status,
//! last_update, prefix)`, status 0 RUNNING, 1 CANCELING, 2 FINISHED) so an
//! upgraded worker keeps its jobs, plus `start_time` (the process identity,
//! see [`super::process`]) and a `tombstones` table of jobs the master
//! acknowledged, answered with END if the master ever STARTs them again
//! (docs/protocol.md D4).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

/// Status of a job on the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaveJobStatus {
    /// lava-run runs.
    Running,
    /// CANCEL received; lava-run was told to stop.
    Canceling,
    /// lava-run is gone; END is owed to the master.
    Finished,
}

impl SlaveJobStatus {
    fn code(self) -> i64 {
        match self {
            SlaveJobStatus::Running => 0,
            SlaveJobStatus::Canceling => 1,
            SlaveJobStatus::Finished => 2,
        }
    }

    fn from_code(code: i64) -> SlaveJobStatus {
        match code {
            0 => SlaveJobStatus::Running,
            1 => SlaveJobStatus::Canceling,
            _ => SlaveJobStatus::Finished,
        }
    }
}

/// One row of the job table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaveJob {
    /// The LAVA job id.
    pub id: i64,
    /// lava-run's pid (0: never started).
    pub pid: u32,
    /// lava-run's start time (process identity).
    pub start_time: u64,
    /// Where the job is.
    pub status: SlaveJobStatus,
    /// Unix seconds of the last status change.
    pub last_update: i64,
    /// The dispatcher configuration's `prefix` for the job directories.
    pub prefix: String,
}

/// The job table.
pub struct JobTable {
    conn: Connection,
}

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl JobTable {
    /// Open (creating) `SLAVE_DIR/db.sqlite3`.
    pub fn open(path: &Path) -> rusqlite::Result<JobTable> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS jobs(
                 id INTEGER PRIMARY KEY,
                 pid INTEGER,
                 status INTEGER,
                 last_update INTEGER,
                 prefix VARCHAR(100) DEFAULT '');
             CREATE TABLE IF NOT EXISTS tombstones(id INTEGER PRIMARY KEY, at INTEGER NOT NULL);",
        )?;
        // Older tables lack these columns.
        for (column, ddl) in [
            (
                "prefix",
                "ALTER TABLE jobs ADD COLUMN prefix VARCHAR(100) DEFAULT ''",
            ),
            (
                "start_time",
                "ALTER TABLE jobs ADD COLUMN start_time INTEGER DEFAULT 0",
            ),
        ] {
            let exists: bool = conn
                .prepare("SELECT 1 FROM pragma_table_info('jobs') WHERE name = ?1")?
                .exists([column])?;
            if !exists {
                conn.execute_batch(ddl)?;
            }
        }
        Ok(JobTable { conn })
    }

    fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SlaveJob> {
        Ok(SlaveJob {
            id: row.get(0)?,
            pid: row.get::<_, Option<i64>>(1)?.unwrap_or(0) as u32,
            status: SlaveJobStatus::from_code(row.get::<_, Option<i64>>(2)?.unwrap_or(2)),
            last_update: row.get::<_, Option<i64>>(3)?.unwrap_or(0),
            prefix: row.get::<_, Option<String>>(4)?.unwrap_or_default(),
            start_time: row.get::<_, Option<i64>>(5)?.unwrap_or(0) as u64,
        })
    }

    /// One job.
    pub fn get(&self, id: i64) -> rusqlite::Result<Option<SlaveJob>> {
        self.conn
            .query_row(
                "SELECT id, pid, status, last_update, prefix, start_time FROM jobs WHERE id = ?1",
                [id],
                Self::row,
            )
            .optional()
    }

    /// Every job.
    pub fn all(&self) -> rusqlite::Result<Vec<SlaveJob>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, pid, status, last_update, prefix, start_time FROM jobs ORDER BY id",
        )?;
        let rows = stmt.query_map([], Self::row)?;
        rows.collect()
    }

    /// Record a job.
    pub fn insert(&self, job: &SlaveJob) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO jobs (id, pid, status, last_update, prefix, start_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![job.id, job.pid, job.status.code(), job.last_update, job.prefix, job.start_time as i64],
        )?;
        Ok(())
    }

    /// Change a job's status (and its last-update time).
    pub fn set_status(&self, id: i64, status: SlaveJobStatus) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE jobs SET status = ?1, last_update = ?2 WHERE id = ?3",
            params![status.code(), unix_now(), id],
        )?;
        Ok(())
    }

    /// Forget a job the master acknowledged, leaving a tombstone.
    pub fn remove(&self, id: i64) -> rusqlite::Result<()> {
        self.conn.execute("DELETE FROM jobs WHERE id = ?1", [id])?;
        self.conn.execute(
            "INSERT OR REPLACE INTO tombstones (id, at) VALUES (?1, ?2)",
            params![id, unix_now()],
        )?;
        // Tombstones are kept for a day.
        self.conn.execute(
            "DELETE FROM tombstones WHERE at < ?1",
            [unix_now() - 86_400],
        )?;
        Ok(())
    }

    /// Whether the master already acknowledged this job's END.
    pub fn is_tombstone(&self, id: i64) -> rusqlite::Result<bool> {
        self.conn
            .prepare("SELECT 1 FROM tombstones WHERE id = ?1")?
            .exists([id])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_reopening_and_tombstones_remember() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let job = SlaveJob {
            id: 7,
            pid: 1234,
            start_time: 99,
            status: SlaveJobStatus::Running,
            last_update: 1,
            prefix: "lab-".into(),
        };
        JobTable::open(&path).unwrap().insert(&job).unwrap();
        let table = JobTable::open(&path).unwrap();
        assert_eq!(table.get(7).unwrap(), Some(job));
        table.set_status(7, SlaveJobStatus::Finished).unwrap();
        assert_eq!(
            table.get(7).unwrap().unwrap().status,
            SlaveJobStatus::Finished
        );
        table.remove(7).unwrap();
        assert_eq!(table.get(7).unwrap(), None);
        assert!(table.is_tombstone(7).unwrap());
        assert!(!table.is_tombstone(8).unwrap());
    }

    #[test]
    fn a_lava_2020_table_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE jobs(id INTEGER PRIMARY KEY, pid INTEGER, status INTEGER, last_update INTEGER);
             INSERT INTO jobs VALUES (5, 4321, 2, 100);",
        )
        .unwrap();
        drop(old);
        let table = JobTable::open(&path).unwrap();
        let job = table.get(5).unwrap().unwrap();
        assert_eq!(
            (job.pid, job.status, job.prefix.as_str()),
            (4321, SlaveJobStatus::Finished, "")
        );
    }
}
