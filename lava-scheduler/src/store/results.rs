//! Test results: suites, sets and cases of a job.

use super::rows::*;
use super::*;
use crate::error::StoreError;
use crate::model::*;

impl SqlStore {
    /// Store one test case of a job (suite and set created on demand).
    pub fn add_test_case(&self, job_id: i64, case: &NewTestCase) -> Result<i64, StoreError> {
        let result = case.result.ok_or_else(|| {
            StoreError::Refused(format!("test case '{}' has no result", case.name))
        })?;
        self.tx(|conn| {
            conn.query_opt("SELECT id FROM jobs WHERE id = $1", &[job_id.into()])?
                .ok_or_else(|| not_found("job", job_id))?;
            let suite = match conn.query_opt("SELECT id FROM test_suites WHERE job = $1 AND name = $2", &[job_id.into(), case.suite.as_str().into()])? {
                Some(row) => row.int(0)?,
                None => conn
                    .query_opt("INSERT INTO test_suites (job, name) VALUES ($1, $2) RETURNING id", &[job_id.into(), case.suite.as_str().into()])?
                    .ok_or_else(|| StoreError::database("INSERT ... RETURNING gave no row"))?
                    .int(0)?,
            };
            let set = match &case.set {
                None => None,
                Some(name) => Some(match conn.query_opt("SELECT id FROM test_sets WHERE suite = $1 AND name = $2", &[suite.into(), name.into()])? {
                    Some(row) => row.int(0)?,
                    None => conn
                        .query_opt("INSERT INTO test_sets (suite, name) VALUES ($1, $2) RETURNING id", &[suite.into(), name.into()])?
                        .ok_or_else(|| StoreError::database("INSERT ... RETURNING gave no row"))?
                        .int(0)?,
                }),
            };
            let row = conn
                .query_opt(
                    "INSERT INTO test_cases (suite, test_set, name, result, measurement, units, metadata, start_log_line, end_log_line, logged) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                    &[
                        suite.into(),
                        set.into(),
                        case.name.as_str().into(),
                        result.code().into(),
                        case.measurement.clone().into(),
                        case.units.as_str().into(),
                        case.metadata.clone().into(),
                        case.start_log_line.into(),
                        case.end_log_line.into(),
                        now_micros().into(),
                    ],
                )?
                .ok_or_else(|| StoreError::database("INSERT ... RETURNING gave no row"))?;
            row.int(0)
        })
    }

    /// Forget a job's results (suites, sets, cases), before they are
    /// stored again from its whole log; returns how many cases went.
    pub fn delete_test_cases(&self, job_id: i64) -> Result<u64, StoreError> {
        self.tx(|conn| {
            let cases = conn
                .query_opt(
                    "SELECT COUNT(*) FROM test_cases WHERE suite IN (SELECT id FROM test_suites WHERE job = $1)",
                    &[job_id.into()],
                )?
                .map(|row| row.int(0))
                .transpose()?
                .unwrap_or(0);
            // sets and cases go with their suites (ON DELETE CASCADE)
            conn.execute("DELETE FROM test_suites WHERE job = $1", &[job_id.into()])?;
            Ok(cases as u64)
        })
    }

    /// A job's test suites as (id, name), in the order they were made.
    pub fn test_suites(&self, job_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
        self.tx(|conn| {
            conn.query(
                "SELECT id, name FROM test_suites WHERE job = $1 ORDER BY id",
                &[job_id.into()],
            )?
            .iter()
            .map(|row| Ok((row.int(0)?, row.text(1)?)))
            .collect()
        })
    }

    /// A job's test cases, in the order stored.
    pub fn test_cases(&self, job_id: i64) -> Result<Vec<TestCase>, StoreError> {
        self.tx(|conn| {
            conn.query(
                &format!(
                    "SELECT {TEST_CASE_COLUMNS} FROM test_cases c JOIN test_suites s ON c.suite = s.id \
                     LEFT JOIN test_sets t ON c.test_set = t.id WHERE s.job = $1 ORDER BY c.id"
                ),
                &[job_id.into()],
            )?
            .iter()
            .map(test_case_from)
            .collect()
        })
    }
}
