//! A fresh store for tests that only run `lava-server manage`: a SQLite
//! file in a temporary folder, or a PostgreSQL schema of its own (dropped
//! at the end).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use lava_scheduler::SqlStore;

pub struct CliStore {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    cleanup: Option<(String, String)>,
}

impl Drop for CliStore {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.cleanup.take() {
            super::drop_schema(&base, &schema);
        }
    }
}

impl CliStore {
    /// A SQLite store in a temporary folder of its own.
    pub fn sqlite() -> CliStore {
        let dir = tempfile::tempdir().unwrap();
        let mut store = CliStore::sqlite_in(dir.path());
        store._dir = Some(dir);
        store
    }

    /// A SQLite store in `dir` (which the caller keeps).
    pub fn sqlite_in(dir: &Path) -> CliStore {
        CliStore {
            url: format!("sqlite://{}/lava.db", dir.display()),
            _dir: None,
            cleanup: None,
        }
    }

    /// A schema of its own in `LAVA_TEST_DATABASE_URL`, named after
    /// `prefix`; `None` (and a line saying so) when the variable is unset.
    pub fn postgres(prefix: &str) -> Option<CliStore> {
        let Ok(base) = std::env::var("LAVA_TEST_DATABASE_URL") else {
            eprintln!("skipping PostgreSQL: LAVA_TEST_DATABASE_URL is not set");
            return None;
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let schema = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(CliStore {
            url: format!("{base}{sep}schema={schema}"),
            _dir: None,
            cleanup: Some((base, schema)),
        })
    }

    /// Run `lava-server manage ARGS`: (exit code, stdout, stderr).
    pub fn manage(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_lava-server"))
            .arg("manage")
            .args(args)
            .env("LAVA_DATABASE_URL", &self.url)
            .env("USER", "admin")
            .output()
            .expect("run lava-server");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Run and require success; return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.manage(args);
        assert_eq!(code, 0, "lava-server manage {args:?}: {stdout}{stderr}");
        stdout
    }

    /// The store itself.
    pub fn store(&self) -> SqlStore {
        SqlStore::open_url(&self.url).unwrap()
    }
}
