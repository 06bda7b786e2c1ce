//! A shell session on a console: a [`Pty`] child (telnet to ser2net,
//! QEMU's serial on stdio, a simulated board...), the [`Expect`] engine,
//! the current prompts and timeouts, and the line assembler that logs
//! every complete line of device output once, as `target` (or `feedback`).
//! What is sent is logged only as `input` (docs/pipeline.md §5.3, §14.30).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use lava_pipeline::CancelToken;
//! use lava_pipeline::connection::{SessionKind, ShellSession, WaitOutcome};
//! use lava_pipeline::connection::Pattern;
//! use lava_pipeline::Logger;
//!
//! let (logger, memory) = Logger::memory("1");
//! let cancel = CancelToken::new().unwrap();
//! let argv = ["sh".to_string(), "-c".into(), "echo 'board$ '; read x; echo got $x".into()];
//! let mut session = ShellSession::spawn(&argv, logger, SessionKind::Plain).unwrap();
//! let until = Instant::now() + Duration::from_secs(10);
//! assert!(matches!(session.expect(&[Pattern::new(r"board\$").unwrap()], until, &cancel).unwrap(), WaitOutcome::Matched(_)));
//! session.sendline("hello", Duration::ZERO, &cancel).unwrap();
//! let got = session.expect(&[Pattern::new("got (?P<word>\\w+)").unwrap()], until, &cancel).unwrap();
//! let WaitOutcome::Matched(m) = got else { panic!("{got:?}") };
//! assert_eq!(m.groups[0].1, "hello");
//! session.finalise_quietly();
//! assert!(memory.messages(lava_proto::log::LogLevel::Input).contains(&"hello\n".to_string()));
//! ```

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lava_proto::log::LogLevel;

use crate::cancel::{wait_readable, CancelToken};
use crate::connection::expect::{Cursor, Expect, Match, Pattern};
use crate::connection::Pty;
use crate::error::Error;
use crate::logger::Logger;
use crate::timeout::Deadline;

/// A session shared between actions (stored per namespace).
pub type SessionHandle = Arc<Mutex<ShellSession>>;

/// Lock a shared session (a poisoned lock is still usable).
pub fn lock(handle: &SessionHandle) -> MutexGuard<'_, ShellSession> {
    handle.lock().unwrap_or_else(|e| e.into_inner())
}

/// What kind of console: decides how it is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A serial console command (telnet, ser2net, a script).
    Plain,
    /// QEMU's serial console: closing sends `poweroff` first.
    Qemu,
}

/// The outcome of a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A pattern matched.
    Matched(Match),
    /// Nothing matched in time.
    Timeout,
    /// The console closed.
    Eof,
}

/// The outcome of reading a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutcome {
    /// A complete line (without newline).
    Line(String),
    /// No complete line in time.
    Timeout,
    /// The console closed.
    Eof,
}

/// A console session. See the module documentation.
#[derive(Debug)]
pub struct ShellSession {
    pty: Pty,
    engine: Expect,
    logger: Logger,
    /// The prompts that mean "the shell is ready" (regular expressions).
    pub prompts: Vec<String>,
    /// The time one wait may take when no deadline is closer.
    pub connection_timeout: Duration,
    /// Tags of the connection (`primary`, `telnet`...).
    pub tags: Vec<String>,
    /// The kind of console.
    pub kind: SessionKind,
    /// What ends a line sent to the device (`\n`).
    pub line_separator: String,
    /// The character sent to provoke a prompt (`#`).
    pub check_char: String,
    /// Output is logged at this level (`target`; `feedback` while drained
    /// for another namespace).
    pub log_level: LogLevel,
    partial: Vec<u8>,
    eof: bool,
    closed: bool,
    received: u64,
}

impl ShellSession {
    /// Spawn `argv` on a pty and wrap it.
    pub fn spawn(argv: &[String], logger: Logger, kind: SessionKind) -> Result<Self, Error> {
        let pty = Pty::spawn(argv).map_err(|e| {
            Error::infrastructure(format!("Unable to start '{}': {e}", argv.join(" ")))
        })?;
        Ok(ShellSession {
            pty,
            engine: Expect::new(),
            logger,
            prompts: Vec::new(),
            connection_timeout: crate::timeout::DEFAULT_TIMEOUT,
            tags: Vec::new(),
            kind,
            line_separator: "\n".into(),
            check_char: "#".into(),
            log_level: LogLevel::Target,
            partial: Vec::new(),
            eof: false,
            closed: false,
            received: 0,
        })
    }

    /// Wrap in a shareable handle.
    pub fn into_handle(self) -> SessionHandle {
        Arc::new(Mutex::new(self))
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pty.pid()
    }

    /// Whether the console reached end of file.
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The logger output is written to.
    pub fn logger(&self) -> &Logger {
        &self.logger
    }

    fn log_output(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        let Some(last) = self.partial.iter().rposition(|b| *b == b'\n') else {
            if self.partial.len() > 64 * 1024 {
                let text = String::from_utf8_lossy(&self.partial).into_owned();
                self.logger.device_output(self.log_level.clone(), &text);
                self.partial.clear();
            }
            return;
        };
        let rest = self.partial.split_off(last + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        for line in complete.split(|b| *b == b'\n') {
            let text = String::from_utf8_lossy(line);
            if text.trim_matches(|c| c == '\r' || c == '\u{1b}').is_empty() {
                continue;
            }
            self.logger.device_output(self.log_level.clone(), &text);
        }
    }

    /// Log what is left of a partial line.
    pub fn flush_log(&mut self) {
        if !self.partial.is_empty() {
            let text = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            if !text.trim().is_empty() {
                self.logger.device_output(self.log_level.clone(), &text);
            }
        }
    }

    /// Read what arrives before `until`. `Ok(true)`: data (or end of file)
    /// was read; `Ok(false)`: timeout.
    pub fn fill(&mut self, until: Option<Instant>, cancel: &CancelToken) -> Result<bool, Error> {
        if self.eof {
            return Ok(true);
        }
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.pty.read(&mut buf) {
                Ok(Some(0)) => {
                    self.eof = true;
                    self.flush_log();
                    return Ok(true);
                }
                Ok(Some(n)) => {
                    self.received += n as u64;
                    self.engine.feed(&buf[..n]);
                    self.log_output(&buf[..n]);
                    return Ok(true);
                }
                Ok(None) => {
                    if !wait_readable(self.pty.fd(), until, cancel)? {
                        return Ok(false);
                    }
                }
                Err(e) => {
                    return Err(Error::infrastructure(format!(
                        "Reading the console failed: {e}"
                    )))
                }
            }
        }
    }

    /// Wait until one of `patterns` matches, the console closes, or
    /// `until` passes (or the job is canceled: `Err(Canceled)`).
    pub fn expect(
        &mut self,
        patterns: &[Pattern],
        until: Instant,
        cancel: &CancelToken,
    ) -> Result<WaitOutcome, Error> {
        let mut cursor = Cursor::default();
        loop {
            if let Some(m) = self.engine.search(patterns, &mut cursor) {
                return Ok(WaitOutcome::Matched(m));
            }
            if self.eof {
                return Ok(WaitOutcome::Eof);
            }
            if Instant::now() >= until {
                return Ok(WaitOutcome::Timeout);
            }
            if !self.fill(Some(until), cancel)? {
                return Ok(WaitOutcome::Timeout);
            }
        }
    }

    /// The next complete line of output.
    pub fn read_line(
        &mut self,
        until: Instant,
        cancel: &CancelToken,
    ) -> Result<LineOutcome, Error> {
        loop {
            if let Some(line) = self.engine.next_line() {
                return Ok(LineOutcome::Line(line));
            }
            if self.eof {
                return Ok(LineOutcome::Eof);
            }
            if Instant::now() >= until {
                return Ok(LineOutcome::Timeout);
            }
            if !self.fill(Some(until), cancel)? {
                return Ok(LineOutcome::Timeout);
            }
        }
    }

    /// The unconsumed output.
    pub fn buffered(&self) -> &str {
        self.engine.buffer()
    }

    /// Drop the unconsumed output (it was logged already).
    pub fn discard_buffer(&mut self) {
        self.engine.clear();
    }

    fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.pty
            .write_all(data)
            .map_err(|e| Error::infrastructure(format!("Writing to the console failed: {e}")))
    }

    /// Send `text` and the line separator, with `delay` between characters.
    pub fn sendline(
        &mut self,
        text: &str,
        delay: Duration,
        cancel: &CancelToken,
    ) -> Result<(), Error> {
        let line = format!("{text}{}", self.line_separator);
        self.logger.input(line.as_str());
        self.type_text(&line, delay, cancel)
    }

    /// Send a password and the line separator; the log shows `********`.
    pub fn sendline_secret(
        &mut self,
        text: &str,
        delay: Duration,
        cancel: &CancelToken,
    ) -> Result<(), Error> {
        self.logger
            .input(format!("********{}", self.line_separator));
        let line = format!("{text}{}", self.line_separator);
        self.type_text(&line, delay, cancel)
    }

    /// Send `text` as is (logged as `input`).
    pub fn send(&mut self, text: &str, delay: Duration, cancel: &CancelToken) -> Result<(), Error> {
        self.logger.input(text);
        self.type_text(text, delay, cancel)
    }

    fn type_text(
        &mut self,
        text: &str,
        delay: Duration,
        cancel: &CancelToken,
    ) -> Result<(), Error> {
        if delay.is_zero() {
            return self.write(text.as_bytes());
        }
        let mut buf = [0u8; 4];
        for c in text.chars() {
            cancel.check()?;
            self.write(c.encode_utf8(&mut buf).as_bytes())?;
            // the board's UART has no flow control: pace the characters
            std::thread::sleep(delay);
        }
        Ok(())
    }

    /// Send Ctrl-`c` (logged as `input`).
    pub fn sendcontrol(&mut self, c: char) -> Result<(), Error> {
        self.logger.input(c.to_string());
        let code = (c.to_ascii_lowercase() as u8) & 0x1f;
        self.write(&[code])
    }

    /// Compile the current prompts.
    pub fn prompt_patterns(&self) -> Result<Vec<Pattern>, Error> {
        compile(&self.prompts)
    }

    /// Wait for a prompt before `deadline` (and at most the connection
    /// timeout): LAVA's `wait`. A deadline expiry raises its own error;
    /// a connection timeout is a `Job` error "wait for prompt timed out".
    pub fn wait_prompt(
        &mut self,
        deadline: &Deadline,
        cancel: &CancelToken,
    ) -> Result<Match, Error> {
        let patterns = self.prompt_patterns()?;
        let until = deadline.within(self.connection_timeout);
        match self.expect(&patterns, until, cancel)? {
            WaitOutcome::Matched(m) => Ok(m),
            WaitOutcome::Eof => Err(Error::infrastructure("Connection closed")),
            WaitOutcome::Timeout if deadline.expired() => Err(deadline.error()),
            WaitOutcome::Timeout => Err(Error::job("wait for prompt timed out")),
        }
    }

    /// Wait for one of the regular expressions `prompts` (as
    /// [`ShellSession::wait_prompt`]).
    pub fn wait_prompt_list(
        &mut self,
        prompts: &[String],
        deadline: &Deadline,
        cancel: &CancelToken,
    ) -> Result<Match, Error> {
        let saved = std::mem::replace(&mut self.prompts, prompts.to_vec());
        let result = self.wait_prompt(deadline, cancel);
        self.prompts = saved;
        result
    }

    /// Wait for one of `patterns` until `deadline`, provoking a prompt
    /// with the check character after half the time and then every tenth
    /// (LAVA's `force_prompt_wait`, for a device known to be at a shell).
    pub fn force_prompt_wait(
        &mut self,
        patterns: &[Pattern],
        deadline: &Deadline,
        cancel: &CancelToken,
    ) -> Result<Match, Error> {
        let remaining = deadline.remaining().unwrap_or(self.connection_timeout);
        let mut slice = remaining / 2;
        for attempt in 0..7 {
            let until = deadline.within(slice);
            match self.expect(patterns, until, cancel)? {
                WaitOutcome::Matched(m) => return Ok(m),
                WaitOutcome::Eof => return Err(Error::infrastructure("Connection closed")),
                WaitOutcome::Timeout => {
                    if deadline.expired() {
                        return Err(deadline.error());
                    }
                    if attempt < 6 {
                        let check = self.check_char.clone();
                        self.sendline(&check, Duration::ZERO, cancel)?;
                        slice = (remaining / 10).max(Duration::from_millis(100));
                    }
                }
            }
        }
        Err(Error::job("wait for prompt timed out"))
    }

    /// Read for `duration`, logging output as `feedback`; returns the
    /// number of bytes read.
    pub fn listen_feedback(&mut self, duration: Duration, cancel: &CancelToken) -> usize {
        let before = self.received;
        let level = std::mem::replace(&mut self.log_level, LogLevel::Feedback);
        let until = Instant::now() + duration;
        while Instant::now() < until && !self.eof {
            match self.fill(Some(until), cancel) {
                Ok(true) => {}
                _ => break,
            }
        }
        self.flush_log();
        self.engine.clear();
        self.log_level = level;
        (self.received - before) as usize
    }

    /// Close the console: QEMU gets `poweroff` and up to 5 s to exit; a
    /// telnet connection gets its escape and `quit`; then the process
    /// group is killed.
    pub fn finalise(&mut self, logger: &Logger) {
        if self.closed {
            return;
        }
        let cancel = CancelToken::new().ok();
        if !self.eof {
            match self.kind {
                SessionKind::Qemu => {
                    logger.debug("Finalising the QEMU connection: poweroff");
                    if let Some(cancel) = &cancel {
                        if self.sendline("poweroff", Duration::ZERO, cancel).is_ok() {
                            let until = Instant::now() + Duration::from_secs(5);
                            while !self.eof && Instant::now() < until {
                                if !matches!(self.fill(Some(until), cancel), Ok(true)) {
                                    break;
                                }
                            }
                        }
                    }
                }
                SessionKind::Plain => {
                    if self.tags.iter().any(|t| t == "telnet") {
                        let _ = self.write(b"\x1d");
                        let _ = self.write(b"quit\n");
                    }
                }
            }
        }
        self.flush_log();
        self.finalise_quietly();
        logger.debug(format!("Finalised the connection (pid {})", self.pty.pid()));
    }

    /// Kill the console's process group without further ado.
    pub fn finalise_quietly(&mut self) {
        self.closed = true;
        self.pty.kill();
    }
}

/// Compile a list of regular expressions (a bad one is a `Job` error).
pub fn compile(patterns: &[String]) -> Result<Vec<Pattern>, Error> {
    patterns
        .iter()
        .map(|p| Pattern::new(p).map_err(|e| Error::job(format!("Invalid pattern '{p}': {e}"))))
        .collect()
}
