//! Cooperative, two-stage cancellation (docs/pipeline.md §1.4, §14.31).
//!
//! The first cancel (first SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 or
//! SIGUSR2) means "stop and clean up": the running action's next blocking
//! wait fails with a `Canceled` error and the job runs its cleanup. The
//! second means "stop cleaning up": waits in the cleanup phase fail too.
//!
//! Nothing is interrupted at an arbitrary point: every blocking wait of the
//! crate polls the token's file descriptor next to its own, so a cancel
//! wakes it at once (no polling loop, no sleep).
//!
//! ```
//! use lava_pipeline::CancelToken;
//!
//! let token = CancelToken::new().unwrap();
//! assert!(token.check().is_ok());
//! token.cancel();
//! assert_eq!(token.check().unwrap_err().message, "The job was canceled");
//! token.enter_cleanup();
//! assert!(token.check().is_ok(), "cleanup goes on after the first cancel");
//! token.cancel();
//! assert!(token.check().is_err(), "the second cancel stops the cleanup");
//! ```

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use crate::error::Error;

/// A cancel flag that blocking waits can poll.
#[derive(Clone, Debug)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    level: AtomicU8,
    cleanup: AtomicBool,
    first: (OwnedFd, OwnedFd),
    second: (OwnedFd, OwnedFd),
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, both descriptors are open and owned by us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn poke(fd: &OwnedFd) {
    let byte = [1u8];
    // SAFETY: writing one byte from a valid buffer to an open descriptor.
    let _ = unsafe { libc::write(fd.as_raw_fd(), byte.as_ptr().cast(), 1) };
}

impl CancelToken {
    /// A token that has not been canceled.
    pub fn new() -> io::Result<Self> {
        Ok(CancelToken {
            inner: Arc::new(Inner {
                level: AtomicU8::new(0),
                cleanup: AtomicBool::new(false),
                first: pipe()?,
                second: pipe()?,
            }),
        })
    }

    /// Cancel (again). Safe to call from any thread.
    pub fn cancel(&self) {
        let before = self
            .inner
            .level
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                Some(l.saturating_add(1).min(2))
            })
            .unwrap_or(2);
        match before {
            0 => poke(&self.inner.first.1),
            _ => poke(&self.inner.second.1),
        }
    }

    /// How many times it was canceled (0, 1 or 2).
    pub fn level(&self) -> u8 {
        self.inner.level.load(Ordering::SeqCst)
    }

    /// From now on only a second cancel stops waits.
    pub fn enter_cleanup(&self) {
        self.inner.cleanup.store(true, Ordering::SeqCst);
    }

    /// Whether the job is in its cleanup phase.
    pub fn in_cleanup(&self) -> bool {
        self.inner.cleanup.load(Ordering::SeqCst)
    }

    /// Whether waits must stop now.
    pub fn is_stopped(&self) -> bool {
        let level = self.level();
        if self.in_cleanup() {
            level >= 2
        } else {
            level >= 1
        }
    }

    /// `Err(Canceled)` when waits must stop.
    pub fn check(&self) -> Result<(), Error> {
        if !self.is_stopped() {
            return Ok(());
        }
        Err(Error::canceled(if self.level() >= 2 {
            "canceled again (too long to cancel)"
        } else {
            "The job was canceled"
        }))
    }

    /// A descriptor that is readable once waits must stop (the first
    /// cancel's during the run, the second's during cleanup).
    pub fn fd(&self) -> RawFd {
        if self.in_cleanup() {
            self.inner.second.0.as_raw_fd()
        } else {
            self.inner.first.0.as_raw_fd()
        }
    }

    /// Cancel on each of SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1 and
    /// SIGUSR2, from a small thread (no work in signal handlers). A signal
    /// within a second of the one that last canceled is the
    /// same stop told twice (systemd's SIGTERM to the whole control group,
    /// then the process's parent's own), not a second cancel.
    pub fn cancel_on_signals(&self) -> io::Result<()> {
        use signal_hook::consts::*;
        let mut signals = signal_hook::iterator::Signals::new([
            SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
        ])?;
        let token = self.clone();
        std::thread::Builder::new()
            .name("lava-run-signals".into())
            .spawn(move || {
                let mut last: Option<std::time::Instant> = None;
                for signal in signals.forever() {
                    let now = std::time::Instant::now();
                    if last.is_some_and(|at| now.duration_since(at) < SIGNAL_DEBOUNCE) {
                        log::warn!(
                            "received signal {signal} within {} ms of the last: already canceling",
                            SIGNAL_DEBOUNCE.as_millis()
                        );
                        continue;
                    }
                    last = Some(now);
                    log::warn!("received signal {signal}: canceling");
                    token.cancel();
                }
            })?;
        Ok(())
    }
}

/// How soon after a cancelling signal another one counts as the same
/// stop told twice rather than a second cancel (docs/pipeline.md §1.4).
const SIGNAL_DEBOUNCE: std::time::Duration = std::time::Duration::from_secs(1);

/// Wait until `fd` is readable, the deadline passes or the token stops
/// waits. Returns `Ok(true)` when readable, `Ok(false)` on timeout.
pub fn wait_readable(
    fd: RawFd,
    until: Option<std::time::Instant>,
    cancel: &CancelToken,
) -> Result<bool, Error> {
    loop {
        cancel.check()?;
        let timeout_ms: libc::c_int = match until {
            None => -1,
            Some(at) => {
                let left = at.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    0
                } else {
                    // round up so that we never wake just before the deadline
                    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
                }
            }
        };
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: cancel.fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfd structures.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::infrastructure(format!("poll: {err}")));
        }
        cancel.check()?;
        if fds[0].revents != 0 {
            return Ok(true);
        }
        if rc == 0 || until.is_some_and(|at| std::time::Instant::now() >= at) {
            return Ok(false);
        }
    }
}
