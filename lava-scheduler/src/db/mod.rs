//! The database layer under the store: connection pools for PostgreSQL and
//! SQLite behind one small interface, so that every query and transition is
//! written once.
//!
//! - SQL is written with PostgreSQL placeholders (`$1`, `$2`, ...); the
//!   SQLite backend rewrites them to `?1`, `?2`.
//! - Values cross the boundary as [`SqlValue`]: integers are 64-bit
//!   (`BIGINT` columns on PostgreSQL), booleans are `BOOLEAN` on PostgreSQL
//!   and 0/1 on SQLite, timestamps are microseconds since the epoch,
//!   decimals are text.
//! - [`Database::transaction`] runs a closure in one transaction: `BEGIN`
//!   on PostgreSQL (with `SELECT ... FOR UPDATE` where the store locks rows,
//!   see [`Dialect::for_update`]), `BEGIN IMMEDIATE` on SQLite (one writer
//!   at a time).
//! - The schema is versioned ([`migrations`]); opening a database applies
//!   what is missing and refuses a schema newer than this program knows.

pub mod migrations;
mod postgres;
mod sqlite;

use std::fmt;

use crate::error::StoreError;

/// The SQL dialect of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Dialect {
    /// The row-lock suffix for `SELECT`s inside a transaction: `FOR UPDATE`
    /// on PostgreSQL; nothing on SQLite, whose `BEGIN IMMEDIATE` already
    /// holds the database's write lock.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }
}

/// A value passed to or read from SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(String),
    /// A floating-point number.
    Real(f64),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Bool(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<SqlValue>);

impl Row {
    fn value(&self, i: usize) -> Result<&SqlValue, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("row has no column {i}")))
    }

    /// An integer column.
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} is NULL")))
    }

    /// A nullable integer column.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.value(i)? {
            SqlValue::Null => Ok(None),
            SqlValue::Int(v) => Ok(Some(*v)),
            SqlValue::Bool(b) => Ok(Some(i64::from(*b))),
            other => Err(StoreError::Corrupt(format!(
                "column {i} is not an integer: {other:?}"
            ))),
        }
    }

    /// A boolean column.
    pub fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match self.value(i)? {
            SqlValue::Bool(b) => Ok(*b),
            SqlValue::Int(v) => Ok(*v != 0),
            other => Err(StoreError::Corrupt(format!(
                "column {i} is not a boolean: {other:?}"
            ))),
        }
    }

    /// A text column.
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} is NULL")))
    }

    /// A nullable text column.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.value(i)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(s) => Ok(Some(s.clone())),
            other => Err(StoreError::Corrupt(format!(
                "column {i} is not text: {other:?}"
            ))),
        }
    }

    /// An enum column stored as its LAVA code.
    pub fn code<T>(
        &self,
        i: usize,
        from_code: fn(i64) -> Option<T>,
        what: &str,
    ) -> Result<T, StoreError> {
        let code = self.int(i)?;
        from_code(code).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} code {code}")))
    }
}

/// A connection inside a transaction.
pub trait Conn {
    /// The backend's dialect.
    fn dialect(&self) -> Dialect;
    /// Run a statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError>;
    /// Run a query; returns all rows.
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError>;
    /// Run several statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// Run a query that returns at most one row.
    fn query_opt(&mut self, sql: &str, params: &[SqlValue]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Where the data lives, parsed from a URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgresql://...` or `postgres://...`, with an optional schema to
    /// work in (`?schema=NAME`, removed from the URL given to libpq-style
    /// parsing; used by tests to isolate themselves).
    Postgres {
        /// The connection URL.
        url: String,
        /// The schema (`search_path`) to use, if any.
        schema: Option<String>,
    },
    /// `sqlite://PATH` (relative or absolute path).
    Sqlite {
        /// The database file.
        path: std::path::PathBuf,
    },
}

impl fmt::Debug for DatabaseUrl {
    /// Never prints passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// Parse `postgresql://...`, `postgres://...` or `sqlite://PATH`.
    pub fn parse(text: &str) -> Result<DatabaseUrl, StoreError> {
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::Config(
                    "sqlite:// needs a file path, e.g. sqlite:///var/lib/lava/lava.db".into(),
                ));
            }
            return Ok(DatabaseUrl::Sqlite { path: path.into() });
        }
        if text.starts_with("postgresql://") || text.starts_with("postgres://") {
            let (base, query) = text.split_once('?').unwrap_or((text, ""));
            let mut schema = None;
            let mut rest = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.strip_prefix("schema=") {
                    Some(name) => schema = Some(name.to_string()),
                    None => rest.push(pair),
                }
            }
            if let Some(name) = &schema {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(StoreError::Config(format!(
                        "invalid schema name '{name}' (letters, digits and '_' only)"
                    )));
                }
            }
            let url = if rest.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{}", rest.join("&"))
            };
            return Ok(DatabaseUrl::Postgres { url, schema });
        }
        Err(StoreError::Config(format!(
            "unsupported database URL '{}': use postgresql://USER@HOST/DB or sqlite://PATH",
            redact(text)
        )))
    }

    /// The URL with any password replaced by `***`, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Postgres { url, schema } => match schema {
                Some(s) => format!("{} (schema {s})", redact(url)),
                None => redact(url),
            },
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        }
    }
}

/// Replace the password of `scheme://user:password@host` by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A pool of connections to one database.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    url: DatabaseUrl,
}

#[derive(Clone)]
enum Pool {
    Postgres(postgres::PgPool),
    Sqlite(sqlite::SqlitePool),
}

/// Stops a change watcher when dropped.
pub struct Watcher {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({})", self.url.redacted())
    }
}

impl Database {
    /// Connect and bring the schema up to date.
    pub fn open(url: &DatabaseUrl) -> Result<Database, StoreError> {
        let pool = match url {
            DatabaseUrl::Postgres { url, schema } => {
                Pool::Postgres(postgres::PgPool::open(url, schema.as_deref())?)
            }
            DatabaseUrl::Sqlite { path } => Pool::Sqlite(sqlite::SqlitePool::open(path)?),
        };
        let db = Database {
            pool,
            url: url.clone(),
        };
        migrations::apply(&db)?;
        Ok(db)
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Postgres(_) => Dialect::Postgres,
            Pool::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Run `f` in one transaction: committed when it returns `Ok`, rolled
    /// back when it returns `Err`.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.pool {
            Pool::Postgres(pool) => pool.transaction(f),
            Pool::Sqlite(pool) => pool.transaction(f),
        }
    }

    /// Call `on_change` soon after any transaction that changed data is
    /// committed, by this process or another one (the admin CLI): through
    /// `LISTEN`/`NOTIFY` on PostgreSQL, through `PRAGMA data_version` polled
    /// every 5 ms on SQLite. Bursts may be coalesced into one call. The
    /// watcher stops when the returned handle is dropped.
    pub fn watch_changes(&self, on_change: Box<dyn Fn() + Send>) -> Result<Watcher, StoreError> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = match &self.url {
            DatabaseUrl::Postgres { url, schema } => {
                postgres::watch(url, schema.as_deref(), stop.clone(), on_change)?
            }
            DatabaseUrl::Sqlite { path } => sqlite::watch(
                path,
                std::time::Duration::from_millis(5),
                stop.clone(),
                on_change,
            )?,
        };
        Ok(Watcher {
            stop,
            thread: Some(thread),
        })
    }
}
