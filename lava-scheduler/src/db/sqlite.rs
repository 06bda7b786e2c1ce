//! SQLite backend: `rusqlite` (bundled SQLite) + an r2d2 pool.
//!
//! Every connection runs with foreign keys on, WAL journaling and a busy
//! timeout; every transaction is `BEGIN IMMEDIATE`, so writers queue up
//! instead of failing half-way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value as SqliteValue, ValueRef};

use super::{Conn, Dialect, Row, SqlValue};
use crate::error::StoreError;

/// How long a writer waits for another one before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// r2d2 manager for rusqlite connections to one file.
#[derive(Debug)]
struct Manager {
    path: PathBuf,
}

impl r2d2::ManageConnection for Manager {
    type Connection = rusqlite::Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<rusqlite::Connection, rusqlite::Error> {
        let conn = rusqlite::Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut rusqlite::Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch("")
    }

    fn has_broken(&self, _conn: &mut rusqlite::Connection) -> bool {
        false
    }
}

/// A pool of connections to one SQLite file.
#[derive(Clone)]
pub struct SqlitePool {
    pool: r2d2::Pool<Manager>,
}

impl SqlitePool {
    /// Open (creating the file and its directory if needed).
    pub fn open(path: &Path) -> Result<SqlitePool, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::connect_caused(format!("{}: {e}", dir.display()), e))?;
        }
        let manager = Manager {
            path: path.to_path_buf(),
        };
        // Switch a new file to WAL once, before the pool opens its
        // connections together: SQLite refuses concurrent switches with
        // "database is locked" without waiting (r2d2 would log each refusal
        // as an error and retry); on a WAL file the pragma takes no lock.
        r2d2::ManageConnection::connect(&manager)
            .map_err(|e| StoreError::connect_caused(format!("{}: {e}", path.display()), e))?;
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(30))
            .build(manager)
            .map_err(|e| StoreError::connect_caused(format!("{}: {e}", path.display()), e))?;
        Ok(SqlitePool { pool })
    }

    pub(super) fn transaction<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| StoreError::connect_caused(e.to_string(), e))?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite_error)?;
        let mut wrapper = SqliteConn { tx: &tx };
        match f(&mut wrapper) {
            Ok(value) => {
                tx.commit().map_err(sqlite_error)?;
                Ok(value)
            }
            Err(e) => {
                let _ = tx.rollback();
                Err(e)
            }
        }
    }
}

struct SqliteConn<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

/// `$1` → `?1` (SQLite's numbered parameters).
fn rewrite(sql: &str) -> String {
    sql.replace('$', "?")
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Owned(SqliteValue::Null),
            SqlValue::Int(v) => ToSqlOutput::Owned(SqliteValue::Integer(*v)),
            SqlValue::Bool(v) => ToSqlOutput::Owned(SqliteValue::Integer(i64::from(*v))),
            SqlValue::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            SqlValue::Real(v) => ToSqlOutput::Owned(SqliteValue::Real(*v)),
        })
    }
}

impl Conn for SqliteConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached(&rewrite(sql))
            .map_err(sqlite_error)?;
        let changed = stmt
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(sqlite_error)?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached(&rewrite(sql))
            .map_err(sqlite_error)?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(sqlite_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite_error)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(sqlite_error)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(v) => SqlValue::Int(v),
                    ValueRef::Real(v) => SqlValue::Real(v),
                    ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => SqlValue::Text(String::from_utf8_lossy(b).into_owned()),
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.tx.execute_batch(sql).map_err(sqlite_error)
    }
}

/// Map a driver error to a store error, recognising constraint failures.
pub(super) fn sqlite_error(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(err, message) = &e {
        let text = message.clone().unwrap_or_else(|| err.to_string());
        return match err.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => StoreError::Duplicate(text),
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::Constraint(text),
            _ if err.code == rusqlite::ErrorCode::DatabaseBusy
                || err.code == rusqlite::ErrorCode::DatabaseLocked =>
            {
                StoreError::Busy(text)
            }
            _ => StoreError::database_caused(text, e),
        };
    }
    StoreError::database_caused(e.to_string(), e)
}

/// Calls `on_change` after every transaction committed by another
/// connection (any process), detected with `PRAGMA data_version` every
/// `interval`, until `stop` is set.
pub(super) fn watch(
    path: &Path,
    interval: Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    on_change: Box<dyn Fn() + Send>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let conn = rusqlite::Connection::open(path).map_err(sqlite_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_error)?;
    let version = |conn: &rusqlite::Connection| -> rusqlite::Result<i64> {
        conn.query_row("PRAGMA data_version", [], |row| row.get(0))
    };
    let mut last = version(&conn).map_err(sqlite_error)?;
    std::thread::Builder::new()
        .name("db-watch".into())
        .spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(interval);
                match version(&conn) {
                    Ok(now) if now != last => {
                        last = now;
                        on_change();
                    }
                    Ok(_) => {}
                    Err(e) => log::warn!("[DB] cannot read data_version: {e}"),
                }
            }
        })
        .map_err(|e| {
            StoreError::database_caused(format!("cannot start the watcher thread: {e}"), e)
        })
}
