//! Fixtures shared by the store and scheduler suites: one store per test,
//! on SQLite in a temporary directory and on PostgreSQL at
//! `LAVA_TEST_DATABASE_URL` in a schema of its own.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use lava_scheduler::db::DatabaseUrl;
use lava_scheduler::store::SqlStore;

/// A store plus what keeps its database alive (temp dir or schema).
pub struct Fixture {
    pub store: SqlStore,
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    drop_schema: Option<(String, String)>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.drop_schema.take() {
            if let Ok(mut client) = postgres::Client::connect(&url, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

pub fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::parse(&format!("sqlite://{}/lava.db", dir.path().display())).unwrap();
    Fixture {
        store: SqlStore::open(&url).unwrap(),
        url,
        _dir: Some(dir),
        drop_schema: None,
    }
}

pub fn postgres() -> Option<Fixture> {
    let Ok(base) = std::env::var("LAVA_TEST_DATABASE_URL") else {
        eprintln!("skipping PostgreSQL: LAVA_TEST_DATABASE_URL is not set");
        return None;
    };
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let schema = format!(
        "lava_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = DatabaseUrl::parse(&format!("{base}{sep}schema={schema}")).unwrap();
    let store = SqlStore::open(&url).unwrap();
    Some(Fixture {
        store,
        url,
        _dir: None,
        drop_schema: Some((base, schema)),
    })
}

/// Runs each test function against SQLite and PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[test] fn $name() { super::$name(&super::common::sqlite()); })*
        }
        mod postgres_backend {
            $(#[test] fn $name() { if let Some(f) = super::common::postgres() { super::$name(&f); } })*
        }
    };
}
