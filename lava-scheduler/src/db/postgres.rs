//! PostgreSQL backend: `postgres` + `r2d2_postgres`.

use std::error::Error as StdError;
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use super::{Conn, Dialect, Row, SqlValue};
use crate::error::StoreError;

type Manager = PostgresConnectionManager<NoTls>;

/// A pool of PostgreSQL connections, optionally confined to one schema.
#[derive(Clone)]
pub struct PgPool {
    pool: r2d2::Pool<Manager>,
}

/// Sets the `search_path` of every new connection.
#[derive(Debug)]
struct SearchPath(String);

impl r2d2::CustomizeConnection<postgres::Client, postgres::Error> for SearchPath {
    fn on_acquire(&self, conn: &mut postgres::Client) -> Result<(), postgres::Error> {
        conn.batch_execute(&format!("SET search_path TO {}", self.0))
    }
}

impl PgPool {
    /// Connect (the pool opens connections lazily; one is checked at once).
    pub fn open(url: &str, schema: Option<&str>) -> Result<PgPool, StoreError> {
        let config = postgres::Config::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
        if let Some(schema) = schema {
            // The schema must exist before connections use it.
            let mut client = config.connect(NoTls).map_err(pg_error)?;
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .map_err(pg_error)?;
        }
        let manager = PostgresConnectionManager::new(config, NoTls);
        let mut builder = r2d2::Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(10));
        if let Some(schema) = schema {
            builder = builder.connection_customizer(Box::new(SearchPath(schema.to_string())));
        }
        let pool = builder
            .build(manager)
            .map_err(|e| StoreError::connect_caused(e.to_string(), e))?;
        Ok(PgPool { pool })
    }

    pub(super) fn transaction<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self
            .pool
            .get()
            .map_err(|e| StoreError::connect_caused(e.to_string(), e))?;
        let tx = client.transaction().map_err(pg_error)?;
        let mut conn = PgConn {
            tx: Some(tx),
            wrote: false,
        };
        let result = f(&mut conn);
        let wrote = conn.wrote;
        let mut tx = conn
            .tx
            .take()
            .expect("transaction is present until the end");
        match result {
            Ok(value) => {
                if wrote {
                    // Delivered to listeners only when the commit succeeds.
                    tx.batch_execute(&format!("NOTIFY {CHANGES_CHANNEL}"))
                        .map_err(pg_error)?;
                }
                tx.commit().map_err(pg_error)?;
                Ok(value)
            }
            Err(e) => {
                let _ = tx.rollback();
                Err(e)
            }
        }
    }
}

struct PgConn<'a> {
    tx: Option<postgres::Transaction<'a>>,
    /// Whether the transaction changed data (then listeners are notified).
    wrote: bool,
}

/// The `LISTEN`/`NOTIFY` channel that announces committed changes.
pub const CHANGES_CHANNEL: &str = "lava_changes";

fn params(values: &[SqlValue]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Conn for PgConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, values: &[SqlValue]) -> Result<u64, StoreError> {
        let tx = self.tx.as_mut().expect("open transaction");
        let changed = tx.execute(sql, &params(values)).map_err(pg_error)?;
        self.wrote |= changed > 0;
        Ok(changed)
    }

    fn query(&mut self, sql: &str, values: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let tx = self.tx.as_mut().expect("open transaction");
        let rows = tx.query(sql, &params(values)).map_err(pg_error)?;
        if !rows.is_empty() && sql.trim_start().starts_with("INSERT") {
            self.wrote = true;
        }
        rows.iter().map(convert_row).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let tx = self.tx.as_mut().expect("open transaction");
        tx.batch_execute(sql).map_err(pg_error)
    }
}

fn convert_row(row: &postgres::Row) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let err =
            |e: postgres::Error| StoreError::Corrupt(format!("column {}: {e}", column.name()));
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)
                .map_err(err)?
                .map(SqlValue::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)
                .map_err(err)?
                .map(|v| SqlValue::Int(v.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)
                .map_err(err)?
                .map(|v| SqlValue::Int(v.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map_err(err)?
                .map(SqlValue::Bool)
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)
                .map_err(err)?
                .map(SqlValue::Real)
        } else if *ty == Type::TEXT
            || *ty == Type::VARCHAR
            || *ty == Type::NAME
            || *ty == Type::BPCHAR
        {
            row.try_get::<_, Option<String>>(i)
                .map_err(err)?
                .map(SqlValue::Text)
        } else {
            return Err(StoreError::Corrupt(format!(
                "column {} has unsupported type {ty}",
                column.name()
            )));
        };
        values.push(value.unwrap_or(SqlValue::Null));
    }
    Ok(Row(values))
}

impl ToSql for SqlValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Int(v) => {
                if *ty == Type::INT4 {
                    i32::try_from(*v)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*v)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*v != 0).to_sql(ty, out)
                } else {
                    v.to_sql(ty, out)
                }
            }
            SqlValue::Bool(v) => {
                if *ty == Type::BOOL {
                    v.to_sql(ty, out)
                } else {
                    i64::from(*v).to_sql(ty, out)
                }
            }
            SqlValue::Text(v) => v.as_str().to_sql(ty, out),
            SqlValue::Real(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Map a driver error to a store error, recognising lost races.
pub(super) fn pg_error(e: postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return match code {
            // unique_violation
            "23505" => StoreError::Duplicate(db.detail().unwrap_or(db.message()).to_string()),
            // foreign_key_violation
            "23503" => StoreError::Constraint(db.detail().unwrap_or(db.message()).to_string()),
            // serialization_failure, deadlock_detected
            "40001" | "40P01" => StoreError::Busy(db.message().to_string()),
            _ => {
                let message = format!("{} ({code})", db.message());
                StoreError::database_caused(message, e)
            }
        };
    }
    StoreError::database_caused(e.to_string(), e)
}

/// Calls `on_change` after every committed transaction that changed data,
/// in any process (PostgreSQL `LISTEN`), until `stop` is set.
pub(super) fn watch(
    url: &str,
    schema: Option<&str>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    on_change: Box<dyn Fn() + Send>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let config = postgres::Config::from_str(url)
        .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
    let mut client = config.connect(NoTls).map_err(pg_error)?;
    if let Some(schema) = schema {
        client
            .batch_execute(&format!("SET search_path TO {schema}"))
            .map_err(pg_error)?;
    }
    client
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
        .map_err(pg_error)?;
    std::thread::Builder::new()
        .name("db-watch".into())
        .spawn(move || {
            use postgres::fallible_iterator::FallibleIterator;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut notifications = client.notifications();
                let first = notifications
                    .timeout_iter(Duration::from_millis(200))
                    .next();
                match first {
                    Ok(Some(_)) => {
                        // Coalesce what already arrived into one call (without waiting).
                        while let Ok(Some(_)) = notifications.iter().next() {}
                        on_change();
                    }
                    Ok(None) => {}
                    Err(e) => {
                        log::error!("[DB] lost the change notifications: {e}");
                        return;
                    }
                }
            }
        })
        .map_err(|e| {
            StoreError::database_caused(format!("cannot start the watcher thread: {e}"), e)
        })
}
