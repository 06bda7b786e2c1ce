//! The log sink: every job's log lines appended to `output.yaml` with the
//! `output.idx` index (docs/protocol.md §11.7), results stored as they arrive,
//! and the final `lava`/`job` result finishing the job.
//!
//! For every written line L (the frame text, untouched): the byte offset at
//! which it starts is appended to `output.idx` as a little-endian u64, then
//! `- ` + L + `\n` to `output.yaml`. Markers are not written; they give the
//! log lines of their test case. Malformed frames and lines are dropped with
//! a warning; they never stop the sink.
//!
//! Lines in flight inside a master killed with SIGKILL never reach the
//! sink. A worker of this project says in END how many lines lava-run sent;
//! when fewer are stored the master asks for lava-run's journal and
//! [`LogSink::resync`] rebuilds the job's log and results from it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lava_proto::log::{LogLevel, LogMessage, LogRecord, Marker, MarkerKind, ResultRecord};
use lava_proto::yaml::{self, Mapping, Value};

use crate::model::{Job, JobHealth, JobState, TestResultCode};
use crate::store::{NewTestCase, SqlStore};

/// Result metadata longer than this is dropped (as LAVA does).
const METADATA_LIMIT: usize = 4096;

/// Idle log files are closed after this long.
const IDLE_CLOSE: Duration = Duration::from_secs(60);

struct OpenLog {
    dir: PathBuf,
    output: File,
    index: File,
    offset: u64,
    lines: u64,
    markers: HashMap<String, HashMap<MarkerKind, u64>>,
    last_used: Instant,
    finished: bool,
}

/// What a log line did that the master must react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogOutcome {
    /// Nothing beyond storing.
    Stored,
    /// The line was dropped (malformed, unknown job).
    Dropped,
    /// The final result arrived: the job is Finished.
    JobFinished(i64),
}

/// Writes job logs under a jobs directory.
pub struct LogSink {
    jobs_dir: PathBuf,
    open: HashMap<i64, OpenLog>,
    unknown_warned: HashMap<i64, Instant>,
    /// Jobs rebuilt from a journal: lava-run has exited, so a line that
    /// still arrives is one the journal already gave.
    resynced: std::collections::HashSet<i64>,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl LogSink {
    /// A sink writing under `jobs_dir`.
    pub fn new(jobs_dir: &Path) -> LogSink {
        LogSink {
            jobs_dir: jobs_dir.to_path_buf(),
            open: HashMap::new(),
            unknown_warned: HashMap::new(),
            resynced: std::collections::HashSet::new(),
        }
    }

    fn open_job(&mut self, store: &SqlStore, job_id: i64) -> Option<&mut OpenLog> {
        if !self.open.contains_key(&job_id) {
            let job = match store.job(job_id) {
                Ok(job) => job,
                Err(e) => {
                    let now = Instant::now();
                    let warned = self
                        .unknown_warned
                        .get(&job_id)
                        .is_some_and(|t| now.duration_since(*t) < IDLE_CLOSE);
                    if !warned {
                        log::warn!("[LOGS] dropping log lines for job {job_id}: {e}");
                        self.unknown_warned.insert(job_id, now);
                    }
                    return None;
                }
            };
            let dir = super::prepare::output_dir(&self.jobs_dir, &job);
            match Self::files(&dir) {
                Ok((output, index, offset, lines)) => {
                    log::info!("[{job_id}] receiving logs in {}", dir.display());
                    self.open.insert(
                        job_id,
                        OpenLog {
                            dir,
                            output,
                            index,
                            offset,
                            lines,
                            markers: HashMap::new(),
                            last_used: Instant::now(),
                            finished: job.state == JobState::Finished,
                        },
                    );
                }
                Err(e) => {
                    log::error!("[{job_id}] cannot open the log in {}: {e}", dir.display());
                    return None;
                }
            }
        }
        let log = self.open.get_mut(&job_id)?;
        log.last_used = Instant::now();
        Some(log)
    }

    /// Open (append) `output.yaml` and `output.idx`, continuing after what
    /// is there (a restarted master appends to the same files). A master
    /// killed while writing leaves at most one line half written, or
    /// written but not indexed: both are cut off, so that the files agree
    /// (the line count then says the line is missing, see [`Self::resync`]).
    fn files(dir: &Path) -> std::io::Result<(File, File, u64, u64)> {
        std::fs::create_dir_all(dir)?;
        Self::repair_tail(dir)?;
        let output = open_append(&dir.join("output.yaml"))?;
        let index = open_append(&dir.join("output.idx"))?;
        let offset = output.metadata()?.len();
        let lines = index.metadata()?.len() / 8;
        Ok((output, index, offset, lines))
    }

    fn repair_tail(dir: &Path) -> std::io::Result<()> {
        let (output_path, index_path) = (dir.join("output.yaml"), dir.join("output.idx"));
        let (Ok(output), Ok(index)) = (std::fs::read(&output_path), std::fs::read(&index_path))
        else {
            return Ok(());
        };
        let mut offsets: Vec<u64> = index
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        // entries past the end of the text, or whose line is not complete
        let line_end = |start: u64| {
            output
                .get(start as usize..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                .map(|n| start + n as u64 + 1)
        };
        while let Some(&last) = offsets.last() {
            if line_end(last).is_some() {
                break;
            }
            offsets.pop();
        }
        let end = offsets.last().and_then(|&last| line_end(last)).unwrap_or(0);
        if end != output.len() as u64 || offsets.len() * 8 != index.len() {
            log::warn!(
                "{}: cutting {} bytes of a line not completely written",
                output_path.display(),
                output.len() as u64 - end
            );
            OpenOptions::new()
                .write(true)
                .open(&output_path)?
                .set_len(end)?;
            OpenOptions::new()
                .write(true)
                .open(&index_path)?
                .set_len(offsets.len() as u64 * 8)?;
        }
        Ok(())
    }

    /// Handle one log message (its raw frames).
    pub fn handle(&mut self, store: &SqlStore, frames: &[Vec<u8>]) -> LogOutcome {
        let message = match LogMessage::decode(frames) {
            Ok(message) => message,
            Err(e) => {
                log::warn!("[LOGS] dropping a malformed log message: {e}");
                return LogOutcome::Dropped;
            }
        };
        let job_id = message.job_id as i64;
        if self.resynced.contains(&job_id) {
            log::debug!("[{job_id}] late log line dropped: the journal gave it");
            return LogOutcome::Dropped;
        }
        self.handle_line(store, job_id, &message.line, true)
    }

    /// How many lines of `job`'s log are stored.
    pub fn stored_lines(&self, job: &Job) -> u64 {
        if let Some(log) = self.open.get(&job.id) {
            return log.lines;
        }
        std::fs::metadata(self.output_dir(job).join("output.idx"))
            .map(|m| m.len() / 8)
            .unwrap_or(0)
    }

    /// Rebuild `job_id`'s log from `journal` (every line lava-run sent, one
    /// per line). The new `output.yaml` and `output.idx` are written next to
    /// the old ones and renamed over them; then the job's results are
    /// stored again from the journal's result lines and markers, as if the
    /// lines arrived now (test cases get new ids), and a final result
    /// finishes the job if the lost lines held it. A journal with fewer
    /// lines than are stored is refused (a partial journal must not shorten
    /// a log). Lines of the job that still arrive afterwards are dropped.
    /// If the master dies meanwhile, the worker's next END starts over.
    pub fn resync(
        &mut self,
        store: &SqlStore,
        job_id: i64,
        journal: &str,
    ) -> Result<LogOutcome, String> {
        let job = store.job(job_id).map_err(|e| e.to_string())?;
        let before = self.stored_lines(&job);
        let lines: Vec<&str> = journal
            .lines()
            .filter(|line| LogRecord::parse(line).is_ok_and(|r| r.lvl != LogLevel::Marker))
            .collect();
        if (lines.len() as u64) < before {
            return Err(format!(
                "the journal has {} lines, {before} are stored: kept as stored",
                lines.len()
            ));
        }
        let dir = self.output_dir(&job);
        let write = |name: &str, data: &[u8]| -> std::io::Result<()> {
            let partial = dir.join(format!("{name}.resync"));
            std::fs::write(&partial, data)?;
            std::fs::rename(&partial, dir.join(name))
        };
        let mut output = Vec::with_capacity(journal.len() + 3 * lines.len());
        let mut index = Vec::with_capacity(8 * lines.len());
        for line in &lines {
            index.extend_from_slice(&(output.len() as u64).to_le_bytes());
            output.extend_from_slice(&Self::record(line));
        }
        store.delete_test_cases(job_id).map_err(|e| e.to_string())?;
        self.open.remove(&job_id);
        std::fs::create_dir_all(&dir)
            .and_then(|()| write("output.idx.new", &index))
            .and_then(|()| write("output.yaml", &output))
            .and_then(|()| std::fs::rename(dir.join("output.idx.new"), dir.join("output.idx")))
            .map_err(|e| format!("cannot rewrite the log in {}: {e}", dir.display()))?;
        // the results again, line numbers from the markers as they come
        let mut outcome = LogOutcome::Stored;
        if let Some(log) = self.open_job(store, job_id) {
            log.lines = 0;
        }
        for line in journal.lines().filter(|l| !l.is_empty()) {
            if let LogOutcome::JobFinished(id) = self.handle_line(store, job_id, line, false) {
                outcome = LogOutcome::JobFinished(id);
            }
        }
        // reopened from the files on the next line
        self.open.remove(&job_id);
        self.resynced.insert(job_id);
        log::warn!(
            "[{job_id}] log rebuilt from the worker's journal: {} lines, {} had been lost",
            lines.len(),
            (lines.len() as u64).saturating_sub(before)
        );
        Ok(outcome)
    }

    /// Handle one log line of `job_id`: written (unless `write` is false,
    /// for a line already in the files), its marker noted, its result
    /// stored.
    fn handle_line(
        &mut self,
        store: &SqlStore,
        job_id: i64,
        line: &str,
        write: bool,
    ) -> LogOutcome {
        let record = match LogRecord::parse(line) {
            Ok(record) => record,
            Err(e) => {
                log::warn!("[{job_id}] dropping a log line: {e}");
                return LogOutcome::Dropped;
            }
        };
        let Some(log) = self.open_job(store, job_id) else {
            return LogOutcome::Dropped;
        };
        if record.lvl == LogLevel::Marker {
            match Marker::from_msg(&record.msg) {
                Ok(marker) => {
                    let line = log.lines.saturating_sub(1);
                    log.markers
                        .entry(marker.case)
                        .or_default()
                        .insert(marker.kind, line);
                }
                Err(e) => log::warn!("[{job_id}] dropping a marker: {e}"),
            }
            return LogOutcome::Stored;
        }
        if !write {
            log.lines += 1;
        } else if let Err(e) = Self::append(log, line) {
            log::error!("[{job_id}] cannot write the log line: {e}");
            return LogOutcome::Dropped;
        }
        if record.lvl != LogLevel::Results {
            return LogOutcome::Stored;
        }
        let result = match ResultRecord::from_msg(&record.msg) {
            Ok(result) => result,
            Err(e) => {
                log::warn!("[{job_id}] result not stored: {e}");
                return LogOutcome::Stored;
            }
        };
        let case = Self::test_case(log, &result);
        if let Err(e) = store.add_test_case(job_id, &case) {
            log::error!(
                "[{job_id}] cannot store test case {}/{}: {e}",
                result.definition,
                result.case
            );
        }
        if !result.is_job_result() || log.finished {
            return LogOutcome::Stored;
        }
        let text = |key: &str| {
            result
                .fields
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let health = if result.result == lava_proto::log::TestResult::Pass {
            JobHealth::Complete
        } else {
            JobHealth::Incomplete
        };
        let error_type = text("error_type").unwrap_or_default();
        let infrastructure = matches!(
            error_type.as_str(),
            "Bug" | "Configuration" | "Infrastructure"
        );
        let comment = text("error_msg").map(|m| format!("{error_type}: {m}"));
        match store.finish_job(
            job_id,
            health,
            infrastructure,
            comment.as_deref(),
            "lava-master",
        ) {
            Ok(job) => {
                log.finished = true;
                log::info!("[{job_id}] job status: {}", job.health);
                LogOutcome::JobFinished(job_id)
            }
            Err(e) => {
                log::warn!("[{job_id}] final result not applied: {e}");
                log.finished = true;
                LogOutcome::Stored
            }
        }
    }

    /// A line as `output.yaml` holds it: `- ` + line + newline.
    fn record(line: &str) -> Vec<u8> {
        let mut record = Vec::with_capacity(line.len() + 3);
        record.extend_from_slice(b"- ");
        record.extend_from_slice(line.as_bytes());
        record.push(b'\n');
        record
    }

    fn append(log: &mut OpenLog, line: &str) -> std::io::Result<()> {
        // the line, then its index entry: killed in between, the line is
        // cut off at the next start (repair_tail) and counted as missing
        let record = Self::record(line);
        log.output.write_all(&record)?;
        log.index.write_all(&log.offset.to_le_bytes())?;
        log.offset += record.len() as u64;
        log.lines += 1;
        Ok(())
    }

    fn test_case(log: &mut OpenLog, result: &ResultRecord) -> NewTestCase {
        let mut fields = result.fields.clone();
        // `extra` with `level`: kept in a metadata file, referenced by path.
        if let (Some(extra), Some(level)) = (
            fields.get("extra").cloned(),
            fields
                .get("level")
                .and_then(Value::as_str)
                .map(str::to_string),
        ) {
            let safe = |s: &str| s.replace(['/', '\\'], "_");
            let name = format!(
                "{}-{}-{}.yaml",
                safe(&result.definition),
                safe(&result.case),
                safe(&level)
            );
            let path = log.dir.join("metadata").join(name);
            match Self::merge_metadata(&path, &extra) {
                Ok(()) => {
                    fields.insert("extra", Value::String(path.display().to_string()));
                }
                Err(e) => log::warn!("cannot write {}: {e}", path.display()),
            }
        }
        let metadata = yaml::to_flow_line(&Value::Mapping(fields));
        let (mut start, mut end) = (None, None);
        if result.definition != "lava" {
            if let Some(markers) = log.markers.remove(&result.case) {
                let at = |kind| markers.get(&kind).map(|l| *l as i64);
                start = at(MarkerKind::StartTestCase).or(at(MarkerKind::TestCase));
                end = at(MarkerKind::EndTestCase).or(at(MarkerKind::TestCase));
            }
        }
        NewTestCase {
            suite: result.definition.clone(),
            set: result.set.clone(),
            name: result.case.clone(),
            result: Some(TestResultCode::from(result.result)),
            measurement: result.measurement.clone(),
            units: result.units.clone().unwrap_or_default(),
            metadata: (metadata.len() <= METADATA_LIMIT).then_some(metadata),
            start_log_line: start,
            end_log_line: end,
        }
    }

    fn merge_metadata(path: &Path, extra: &Value) -> std::io::Result<()> {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        let mut merged = match std::fs::read_to_string(path) {
            Ok(text) => yaml::load(&text)
                .ok()
                .and_then(|v| v.as_mapping().cloned())
                .unwrap_or_default(),
            Err(_) => Mapping::new(),
        };
        match extra {
            Value::Mapping(map) => merged.extend(map.clone()),
            other => {
                merged.insert("extra", other.clone());
            }
        }
        std::fs::write(path, yaml::to_flow_line(&Value::Mapping(merged)) + "\n")
    }

    /// Whether the final result of `job` was seen.
    pub fn saw_final_result(&self, job: i64) -> bool {
        self.open.get(&job).is_some_and(|l| l.finished)
    }

    /// Close files idle for a minute.
    pub fn close_idle(&mut self) {
        self.open
            .retain(|_, log| log.last_used.elapsed() < IDLE_CLOSE);
        self.unknown_warned.retain(|_, t| t.elapsed() < IDLE_CLOSE);
    }

    /// The output directory of a job.
    pub fn output_dir(&self, job: &Job) -> PathBuf {
        super::prepare::output_dir(&self.jobs_dir, job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(offsets: &[u64]) -> Vec<u8> {
        offsets.iter().flat_map(|o| o.to_le_bytes()).collect()
    }

    #[test]
    fn a_line_half_written_by_a_killed_master_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let two = "- {\"a\": 1}\n- {\"b\": 2}\n";
        // a third line begun, indexed or not
        for indexed in [true, false] {
            std::fs::write(dir.path().join("output.yaml"), format!("{two}- {{\"c\"")).unwrap();
            let offsets: &[u64] = if indexed { &[0, 11, 22] } else { &[0, 11] };
            std::fs::write(dir.path().join("output.idx"), index(offsets)).unwrap();
            let (_, _, offset, lines) = LogSink::files(dir.path()).unwrap();
            assert_eq!((offset, lines), (two.len() as u64, 2), "indexed: {indexed}");
            assert_eq!(
                std::fs::read_to_string(dir.path().join("output.yaml")).unwrap(),
                two
            );
        }
        // a complete line written, its index entry not: cut too (counted
        // as missing, so that a journal brings it back in its place)
        std::fs::write(
            dir.path().join("output.yaml"),
            format!("{two}- {{\"c\": 3}}\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("output.idx"), index(&[0, 11])).unwrap();
        let (_, _, offset, lines) = LogSink::files(dir.path()).unwrap();
        assert_eq!((offset, lines), (two.len() as u64, 2));
        // an index cut inside an entry
        std::fs::write(dir.path().join("output.idx"), &index(&[0, 11])[..12]).unwrap();
        let (_, _, _, lines) = LogSink::files(dir.path()).unwrap();
        assert_eq!(lines, 1);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("output.yaml")).unwrap(),
            "- {\"a\": 1}\n"
        );
        // consistent files are left alone
        let (_, _, offset, lines) = LogSink::files(dir.path()).unwrap();
        assert_eq!((offset, lines), (11, 1));
    }
}
