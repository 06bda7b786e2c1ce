//! Job-end notifications waiting to be sent. A job submitted with a
//! `notify` block gets a row here; whoever sends notifications (the HTTP
//! service's notifier, `lava-web`) asks for the finished jobs whose turn
//! has come and records what it sent, so that a restart neither loses nor
//! repeats a notification.
//!
//! ```
//! use lava_scheduler::notifications::Notifications;
//! use lava_scheduler::SqlStore;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqlStore::open_url(&format!("sqlite://{}/lava.db", dir.path().display())).unwrap();
//! assert!(store.due_notifications(i64::MAX).unwrap().is_empty());
//! ```

use crate::error::StoreError;
use crate::model::{JobState, Timestamp};
use crate::store::SqlStore;

/// A finished job whose notification is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotification {
    /// The job.
    pub job: i64,
    /// Attempts made so far.
    pub attempts: i64,
    /// What was already delivered (callback and recipient keys).
    pub sent: Vec<String>,
}

/// Progress on one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationProgress {
    /// Delivered so far (callback and recipient keys).
    pub sent: Vec<String>,
    /// Nothing is left to try (all delivered, or given up).
    pub done: bool,
    /// When to try again, if not done.
    pub next_attempt: Timestamp,
    /// The last failure, if any.
    pub error: Option<String>,
}

/// The queue of notifications.
pub trait Notifications {
    /// Finished jobs whose notification is not done and due at `now`,
    /// oldest first (at most 100).
    fn due_notifications(&self, now: Timestamp) -> Result<Vec<PendingNotification>, StoreError>;
    /// Record an attempt.
    fn record_notification(
        &self,
        job: i64,
        progress: &NotificationProgress,
    ) -> Result<(), StoreError>;
}

impl Notifications for SqlStore {
    fn due_notifications(&self, now: Timestamp) -> Result<Vec<PendingNotification>, StoreError> {
        self.database().transaction(|conn| {
            conn.query(
                "SELECT n.job, n.attempts, n.sent FROM notifications n JOIN jobs j ON j.id = n.job \
                 WHERE n.done = $1 AND n.next_attempt <= $2 AND j.state = $3 ORDER BY n.job LIMIT 100",
                &[false.into(), now.into(), JobState::Finished.code().into()],
            )?
            .iter()
            .map(|row| {
                Ok(PendingNotification {
                    job: row.int(0)?,
                    attempts: row.int(1)?,
                    sent: row
                        .text(2)?
                        .split(',')
                        .filter(|k| !k.is_empty())
                        .map(str::to_string)
                        .collect(),
                })
            })
            .collect()
        })
    }

    fn record_notification(
        &self,
        job: i64,
        progress: &NotificationProgress,
    ) -> Result<(), StoreError> {
        self.database().transaction(|conn| {
            conn.execute(
                "UPDATE notifications SET attempts = attempts + 1, done = $1, next_attempt = $2, sent = $3, last_error = $4 WHERE job = $5",
                &[
                    progress.done.into(),
                    progress.next_attempt.into(),
                    progress.sent.join(",").into(),
                    progress.error.clone().into(),
                    job.into(),
                ],
            )?;
            Ok(())
        })
    }
}
