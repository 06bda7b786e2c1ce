//! What the master remembers about each job between control messages (one
//! [`JobRecord`] per job), and the protocol decisions made from it as
//! functions without I/O: [`end_step`] for END, [`Resend`] for the back-off
//! of START and CANCEL. The control loop (`super`) reads the facts from the
//! store and the log sink, calls these, and does what they say.
//!
//! The protocol is docs/protocol.md §5–8; END's log check is §16 (D4, and
//! the LOG_SYNC extension).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lava_proto::control::PING_INTERVAL;

/// When to send a message again that the worker has not answered: 1, 2, 4
/// ... seconds after the previous send, at most a ping interval apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Resend {
    next: Instant,
    delay: Duration,
}

impl Resend {
    /// After the first send at `now`.
    pub fn first(now: Instant) -> Resend {
        Resend {
            next: now + Duration::from_secs(1),
            delay: Duration::from_secs(1),
        }
    }

    /// After one more send at `now`.
    pub fn again(self, now: Instant) -> Resend {
        let delay = (self.delay * 2).min(Duration::from_secs(u64::from(PING_INTERVAL)));
        Resend {
            next: now + delay,
            delay,
        }
    }

    /// Note a send at `now`: the first one, or one more.
    pub fn after(previous: Option<Resend>, now: Instant) -> Resend {
        match previous {
            Some(resend) => resend.again(now),
            None => Resend::first(now),
        }
    }

    /// Whether the message is due again at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next
    }
}

/// Where a job's stored log stands against the line count its worker
/// sent with END.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum LogCount {
    /// Nothing missing seen (or not checked yet).
    #[default]
    Unchecked,
    /// An END counted more lines than are stored: the next END that still
    /// finds them missing asks the worker for its journal (LOG_SYNC).
    Short,
    /// The log was rebuilt from the worker's journal: the next END is
    /// acknowledged with the log as stored.
    Synced,
}

/// The master's memory of one job between messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct JobRecord {
    /// START sent and not answered yet (START_OK or END clear it).
    pub start: Option<Resend>,
    /// CANCEL sent while the job is Canceling.
    pub cancel: Option<Resend>,
    /// END was seen: the job is never started again (D4).
    pub ended: bool,
    /// END was accepted before the job's final result line: the job is
    /// finished Incomplete at this time if the line has not come.
    pub result_deadline: Option<Instant>,
    /// The log check of END.
    pub log: LogCount,
}

/// Every job's record, made on first use.
#[derive(Debug, Default)]
pub(super) struct JobRecords(HashMap<i64, JobRecord>);

impl JobRecords {
    /// The record of `job` (a fresh one when there is none).
    pub fn get(&mut self, job: i64) -> &mut JobRecord {
        self.0.entry(job).or_default()
    }

    /// The record of `job`, if the master has one.
    pub fn peek(&self, job: i64) -> Option<&JobRecord> {
        self.0.get(&job)
    }

    /// Jobs whose final-result grace period is over at `now` (their
    /// deadline is cleared).
    pub fn take_expired_results(&mut self, now: Instant) -> Vec<i64> {
        let mut expired: Vec<i64> = self
            .0
            .iter_mut()
            .filter(|(_, r)| r.result_deadline.is_some_and(|d| now >= d))
            .map(|(id, r)| {
                r.result_deadline = None;
                *id
            })
            .collect();
        expired.sort_unstable();
        expired
    }

    /// Forget the records that no longer matter, so that the master's
    /// memory does not grow with every job it ever ran. START (and its
    /// `ended` guard) only matters while a job is Scheduled; what is kept
    /// besides is a pending CANCEL, grace period or log check. An `ended`
    /// dropped here is also on disk (`description.yaml`), which the START
    /// path checks before it sends.
    pub fn forget_settled(&mut self, scheduled: impl Fn(i64) -> bool) {
        self.0.retain(|id, r| {
            scheduled(*id)
                || r.cancel.is_some()
                || r.result_deadline.is_some()
                || r.log != LogCount::Unchecked
        });
    }

    /// Forget the CANCEL of every job that is no longer Canceling.
    pub fn keep_cancels(&mut self, canceling: impl Fn(i64) -> bool) {
        for (id, record) in &mut self.0 {
            if !canceling(*id) {
                record.cancel = None;
            }
        }
    }
}

/// What the master knows when END arrives (read from the store and the
/// log sink by the caller).
#[derive(Debug, Clone, Default)]
pub(super) struct EndFacts {
    /// The job exists.
    pub known: bool,
    /// The job is Finished.
    pub finished: bool,
    /// The job is on one of the sending worker's devices.
    pub owned: bool,
    /// Its `description.yaml` is written (an END was accepted before).
    pub description_exists: bool,
    /// The log lines the worker counted (this project's workers send it).
    pub sent_lines: Option<u64>,
    /// The log lines stored.
    pub stored_lines: u64,
    /// lava-run crashed (no description).
    pub crash: bool,
    /// The job's final result line is stored.
    pub saw_final_result: bool,
}

/// What to do with END.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EndStep {
    /// The job does not exist: END_OK, nothing else.
    Unknown,
    /// The job is not on the sender's devices (D13): ignored, no END_OK.
    NotOwner,
    /// An END accepted before: END_OK again.
    Duplicate,
    /// Lines are missing, for the first time: no END_OK; the worker sends
    /// END again and queued lines may arrive meanwhile.
    WaitForLog {
        /// Lines counted by the worker.
        sent: u64,
        /// Lines stored.
        stored: u64,
    },
    /// Lines are still missing: LOG_SYNC, and no END_OK until the journal
    /// is applied.
    LogSync {
        /// Lines counted by the worker.
        sent: u64,
        /// Lines stored.
        stored: u64,
    },
    /// Accepted: write `description.yaml`, then `finish`, then END_OK.
    Accept(Finish),
}

/// How an accepted END finishes the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Finish {
    /// Nothing to do: the job is Finished already, or its final result
    /// finished it.
    Nothing,
    /// lava-run crashed: the job is Incomplete now.
    Crashed,
    /// Wait for the final result line until the grace period ends.
    AwaitResult,
}

impl JobRecord {
    /// Whether START may be sent now: never after END (D4); a first START
    /// at once; an unanswered one again when its back-off is over, unless
    /// only new jobs are being started (right after a scheduling pass).
    pub fn start_due(&self, only_new: bool, now: Instant) -> bool {
        if self.ended {
            return false;
        }
        match self.start {
            None => true,
            Some(resend) => !only_new && resend.due(now),
        }
    }

    /// LOG_SYNC_DATA arrived from the job's own worker: whether to apply
    /// it. Only an answer to this master's LOG_SYNC rewrites a log; once
    /// taken, the next END is acknowledged with the log as stored.
    pub fn take_log_sync(&mut self) -> bool {
        if self.log != LogCount::Short {
            return false;
        }
        self.log = LogCount::Synced;
        true
    }
}

/// Decide what END does, and update the job's record.
pub(super) fn end_step(record: &mut JobRecord, facts: &EndFacts) -> EndStep {
    if !facts.known {
        return EndStep::Unknown;
    }
    if !facts.finished && !facts.owned {
        return EndStep::NotOwner;
    }
    record.ended = true;
    record.start = None;
    if facts.description_exists {
        return EndStep::Duplicate;
    }
    // Only the job's own worker may have its log rebuilt; an END accepted
    // once never reopens its log (the description exists above).
    if let Some(sent) = facts.sent_lines {
        let stored = facts.stored_lines;
        if facts.owned && record.log != LogCount::Synced && stored < sent {
            return match record.log {
                LogCount::Short => EndStep::LogSync { sent, stored },
                _ => {
                    record.log = LogCount::Short;
                    EndStep::WaitForLog { sent, stored }
                }
            };
        }
    }
    record.log = LogCount::Unchecked;
    EndStep::Accept(if facts.finished {
        Finish::Nothing
    } else if facts.crash {
        Finish::Crashed
    } else if facts.saw_final_result {
        Finish::Nothing
    } else {
        Finish::AwaitResult
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> EndFacts {
        EndFacts {
            known: true,
            owned: true,
            sent_lines: Some(10),
            stored_lines: 10,
            saw_final_result: true,
            ..EndFacts::default()
        }
    }

    #[test]
    fn a_complete_end_is_accepted_and_the_job_never_starts_again() {
        let mut record = JobRecord {
            start: Some(Resend::first(Instant::now())),
            ..JobRecord::default()
        };
        assert_eq!(
            end_step(&mut record, &running()),
            EndStep::Accept(Finish::Nothing)
        );
        assert!(record.ended);
        assert_eq!(record.start, None);
        let again = EndFacts {
            description_exists: true,
            ..running()
        };
        assert_eq!(end_step(&mut record, &again), EndStep::Duplicate);
    }

    #[test]
    fn missing_lines_wait_once_then_ask_for_the_journal_then_accept() {
        let short = EndFacts {
            stored_lines: 7,
            ..running()
        };
        let mut record = JobRecord::default();
        let step = EndStep::WaitForLog {
            sent: 10,
            stored: 7,
        };
        assert_eq!(end_step(&mut record, &short), step);
        let step = EndStep::LogSync {
            sent: 10,
            stored: 7,
        };
        assert_eq!(end_step(&mut record, &short), step);
        assert_eq!(end_step(&mut record, &short), step);
        // the journal was applied (still short: the journal had fewer lines)
        record.log = LogCount::Synced;
        assert_eq!(
            end_step(&mut record, &short),
            EndStep::Accept(Finish::Nothing)
        );
        assert_eq!(record.log, LogCount::Unchecked);
    }

    #[test]
    fn the_lines_arriving_meanwhile_end_the_wait() {
        let mut record = JobRecord::default();
        let short = EndFacts {
            stored_lines: 7,
            ..running()
        };
        assert!(matches!(
            end_step(&mut record, &short),
            EndStep::WaitForLog { .. }
        ));
        assert_eq!(
            end_step(&mut record, &running()),
            EndStep::Accept(Finish::Nothing)
        );
    }

    #[test]
    fn end_from_another_worker_is_ignored_unless_the_job_is_over() {
        let mut record = JobRecord::default();
        let foreign = EndFacts {
            owned: false,
            stored_lines: 0,
            ..running()
        };
        assert_eq!(end_step(&mut record, &foreign), EndStep::NotOwner);
        assert_eq!(record, JobRecord::default());
        // a finished job's END is acknowledged, and its log never rebuilt
        let finished = EndFacts {
            finished: true,
            ..foreign
        };
        assert_eq!(
            end_step(&mut record, &finished),
            EndStep::Accept(Finish::Nothing)
        );
    }

    #[test]
    fn a_crash_finishes_at_once_and_a_missing_result_gets_a_grace_period() {
        let crash = EndFacts {
            crash: true,
            saw_final_result: false,
            ..running()
        };
        assert_eq!(
            end_step(&mut JobRecord::default(), &crash),
            EndStep::Accept(Finish::Crashed)
        );
        let no_result = EndFacts {
            saw_final_result: false,
            ..running()
        };
        assert_eq!(
            end_step(&mut JobRecord::default(), &no_result),
            EndStep::Accept(Finish::AwaitResult)
        );
        assert_eq!(
            end_step(
                &mut JobRecord::default(),
                &EndFacts {
                    known: false,
                    ..running()
                }
            ),
            EndStep::Unknown
        );
    }

    #[test]
    fn start_goes_once_then_on_back_off_and_never_after_end() {
        let t0 = Instant::now();
        let mut record = JobRecord::default();
        assert!(record.start_due(true, t0));
        record.start = Some(Resend::first(t0));
        assert!(!record.start_due(false, t0));
        let later = t0 + Duration::from_secs(1);
        assert!(record.start_due(false, later));
        assert!(
            !record.start_due(true, later),
            "a pass starts new jobs only"
        );
        record.ended = true;
        assert!(!record.start_due(false, later));
    }

    #[test]
    fn only_an_asked_for_journal_is_applied_and_only_once() {
        let mut record = JobRecord::default();
        assert!(!record.take_log_sync());
        record.log = LogCount::Short;
        assert!(record.take_log_sync());
        assert_eq!(record.log, LogCount::Synced);
        assert!(!record.take_log_sync());
    }

    #[test]
    fn resends_back_off_to_the_ping_interval() {
        let t0 = Instant::now();
        let first = Resend::first(t0);
        assert!(!first.due(t0));
        assert!(first.due(t0 + Duration::from_secs(1)));
        let mut resend = first;
        for _ in 0..10 {
            resend = resend.again(t0);
        }
        assert!(!resend.due(t0 + Duration::from_secs(u64::from(PING_INTERVAL) - 1)));
        assert!(resend.due(t0 + Duration::from_secs(u64::from(PING_INTERVAL))));
    }

    #[test]
    fn settled_records_are_forgotten_and_pending_ones_kept() {
        let t0 = Instant::now();
        let mut records = JobRecords::default();
        records.get(1).ended = true; // finished long ago
        records.get(2).start = Some(Resend::first(t0)); // still Scheduled
        records.get(3).result_deadline = Some(t0); // waiting for its result
        records.get(4).log = LogCount::Short; // waiting for LOG_SYNC
        records.get(5).start = Some(Resend::first(t0)); // canceled before START_OK
        records.forget_settled(|id| id == 2);
        let mut kept: Vec<i64> = records.0.keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, [2, 3, 4]);
    }

    #[test]
    fn expired_grace_periods_are_taken_once() {
        let t0 = Instant::now();
        let mut records = JobRecords::default();
        records.get(3).result_deadline = Some(t0);
        records.get(4).result_deadline = Some(t0 + Duration::from_secs(10));
        assert_eq!(records.take_expired_results(t0), [3]);
        assert!(records.take_expired_results(t0).is_empty());
        assert_eq!(
            records.take_expired_results(t0 + Duration::from_secs(10)),
            [4]
        );
    }
}
