//! Messages of the control channel (TCP port 5556) between the master and its
//! workers, with LAVA 2020.01's exact frame layouts.
//!
//! The control channel is ROUTER-to-ROUTER with no empty delimiter frame: on
//! the wire a message is just its frames, the first one being the command
//! name. The routing frame that a ROUTER socket adds or consumes is *not* part
//! of a [`Message`]; see [`crate::socket`] for sending and receiving.
//!
//! | Command       | Direction       | Frames after the command                                  | Receiver check |
//! |---------------|-----------------|-----------------------------------------------------------|----------------|
//! | `HELLO`       | worker → master | protocol version                                          | at least 2     |
//! | `HELLO_RETRY` | worker → master | protocol version                                          | at least 2     |
//! | `HELLO_OK`    | master → worker | –                                                         | at least 1     |
//! | `PING`        | worker → master | –                                                         | at least 1     |
//! | `PONG`        | master → worker | ping interval in seconds                                  | at least 2     |
//! | `START`       | master → worker | job id, definition, device config, dispatcher config, env, env-dut | exactly 7 |
//! | `START_OK`    | worker → master | job id                                                    | at least 2     |
//! | `CANCEL`      | master → worker | job id                                                    | at least 2     |
//! | `STATUS`      | master → worker | job id                                                    | at least 2     |
//! | `END`         | worker → master | job id, errors (lava-run's stderr), xz-compressed description | at least 4 |
//! | `END_OK`      | master → worker | job id                                                    | at least 2     |
//!
//! This project adds one thing, on frames LAVA ignores. Our workers append
//! a fifth frame to `END`: the number of log lines lava-run sent (markers
//! excepted, [`JobEnd::log_lines`]). A master that stored fewer, because it
//! was killed with lines in flight, asks for lava-run's journal:
//!
//! | Command         | Direction       | Frames after the command        | Receiver check |
//! |-----------------|-----------------|---------------------------------|----------------|
//! | `LOG_SYNC`      | master → worker | job id                          | at least 2     |
//! | `LOG_SYNC_DATA` | worker → master | job id, xz-compressed journal   | at least 3     |
//!
//! A LAVA worker sends no count, so it is never asked; a LAVA master
//! ignores the fifth frame.
//!
//! Integers are ASCII decimal. Receivers accept what Python's `int()` accepts
//! for a job id (surrounding whitespace, a leading `+`), senders always write
//! the canonical form.
//!
//! ```
//! use lava_proto::control::{Message, PROTOCOL_VERSION};
//!
//! let hello = Message::Hello { version: PROTOCOL_VERSION };
//! let frames = hello.encode();
//! assert_eq!(frames, vec![b"HELLO".to_vec(), b"3".to_vec()]);
//! assert_eq!(Message::decode(&frames).unwrap(), hello);
//!
//! // A START must have exactly 7 frames.
//! let short: Vec<&[u8]> = vec![b"START", b"12", b"job", b"device", b"", b""];
//! assert!(Message::decode(&short).is_err());
//! ```

use std::fmt;

use crate::error::ProtoError;
use crate::xz;

/// Version of the master/worker protocol spoken by LAVA 2020.01 (sent in HELLO).
pub const PROTOCOL_VERSION: u32 = 3;

/// Seconds between PINGs that a master asks for in PONG.
pub const PING_INTERVAL: u32 = 20;

/// A LAVA job id (`TestJob.id`), the key of everything on the wire.
pub type JobId = u64;

/// The command name that opens every control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `HELLO`
    Hello,
    /// `HELLO_RETRY`
    HelloRetry,
    /// `HELLO_OK`
    HelloOk,
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
    /// `START`
    Start,
    /// `START_OK`
    StartOk,
    /// `CANCEL`
    Cancel,
    /// `STATUS`
    Status,
    /// `END`
    End,
    /// `END_OK`
    EndOk,
    /// `LOG_SYNC` (this project's extension, see [`Message::LogSync`])
    LogSync,
    /// `LOG_SYNC_DATA` (this project's extension, see [`Message::LogSyncData`])
    LogSyncData,
}

/// How many frames a receiver requires for a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCount {
    /// Exactly this many frames.
    Exactly(usize),
    /// At least this many frames; extra trailing frames are ignored.
    AtLeast(usize),
}

impl fmt::Display for FrameCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameCount::Exactly(n) => write!(f, "exactly {n}"),
            FrameCount::AtLeast(n) => write!(f, "at least {n}"),
        }
    }
}

impl Command {
    /// Every command, in protocol order.
    pub const ALL: [Command; 13] = [
        Command::Hello,
        Command::HelloRetry,
        Command::HelloOk,
        Command::Ping,
        Command::Pong,
        Command::Start,
        Command::StartOk,
        Command::Cancel,
        Command::Status,
        Command::End,
        Command::EndOk,
        Command::LogSync,
        Command::LogSyncData,
    ];

    /// The command's name as it appears in the first frame.
    pub fn name(self) -> &'static str {
        match self {
            Command::Hello => "HELLO",
            Command::HelloRetry => "HELLO_RETRY",
            Command::HelloOk => "HELLO_OK",
            Command::Ping => "PING",
            Command::Pong => "PONG",
            Command::Start => "START",
            Command::StartOk => "START_OK",
            Command::Cancel => "CANCEL",
            Command::Status => "STATUS",
            Command::End => "END",
            Command::EndOk => "END_OK",
            Command::LogSync => "LOG_SYNC",
            Command::LogSyncData => "LOG_SYNC_DATA",
        }
    }

    /// Parse a command frame (exact, case-sensitive).
    pub fn from_frame(frame: &[u8]) -> Option<Command> {
        Command::ALL
            .into_iter()
            .find(|c| c.name().as_bytes() == frame)
    }

    /// The receiver's frame-count rule (docs/protocol.md §4).
    pub fn frame_count(self) -> FrameCount {
        match self {
            Command::HelloOk | Command::Ping => FrameCount::AtLeast(1),
            Command::Hello
            | Command::HelloRetry
            | Command::Pong
            | Command::StartOk
            | Command::Cancel
            | Command::Status
            | Command::EndOk
            | Command::LogSync => FrameCount::AtLeast(2),
            Command::LogSyncData => FrameCount::AtLeast(3),
            Command::End => FrameCount::AtLeast(4),
            Command::Start => FrameCount::Exactly(7),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The payload of `START`: everything a worker needs to run one job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartJob {
    /// The job id.
    pub job_id: JobId,
    /// The job definition (YAML), with the master's `compatibility` key added.
    pub definition: String,
    /// The device configuration (YAML) rendered from the device dictionary.
    pub device: String,
    /// The worker's dispatcher configuration (YAML), possibly empty.
    pub dispatcher: String,
    /// Environment changes for lava-run (YAML), possibly empty.
    pub env: String,
    /// Environment for the device under test (YAML), possibly empty.
    pub env_dut: String,
}

/// The payload of `END`: how a job ended on the worker.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct JobEnd {
    /// The job id.
    pub job_id: JobId,
    /// lava-run's standard error (read lossily by the worker).
    pub errors: String,
    /// `description.yaml` compressed with xz, or empty when lava-run wrote
    /// none (it crashed or never started).
    pub description_xz: Vec<u8>,
    /// How many log lines lava-run sent for the job, markers excepted
    /// (this project's fifth frame; LAVA ignores frames after the fourth
    /// and LAVA's workers do not send it). A master that stored fewer asks
    /// for the worker's journal with [`Message::LogSync`] before END_OK.
    pub log_lines: Option<u64>,
}

impl JobEnd {
    /// Build an END payload, compressing `description` the way LAVA's
    /// worker does (xz container, preset 6, CRC64). `None` means "no
    /// `description.yaml`" and gives an empty frame.
    pub fn new(job_id: JobId, errors: impl Into<String>, description: Option<&[u8]>) -> Self {
        JobEnd {
            job_id,
            errors: errors.into(),
            description_xz: description.map(xz::compress).unwrap_or_default(),
            log_lines: None,
        }
    }

    /// The same END saying that lava-run sent `lines` log lines.
    pub fn with_log_lines(mut self, lines: u64) -> Self {
        self.log_lines = Some(lines);
        self
    }

    /// Whether lava-run left no description (the "lava-run crashed" case).
    pub fn is_crash(&self) -> bool {
        self.description_xz.is_empty()
    }

    /// The decompressed `description.yaml`, or `None` for an empty frame.
    /// Accepts `.xz` and legacy `.lzma` streams; a corrupt or truncated
    /// stream is an error, as is one that expands beyond
    /// [`xz::MAX_DECOMPRESSED`].
    pub fn description(&self) -> Result<Option<Vec<u8>>, ProtoError> {
        if self.description_xz.is_empty() {
            return Ok(None);
        }
        xz::decompress(&self.description_xz).map(Some)
    }
}

impl fmt::Debug for JobEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobEnd")
            .field("job_id", &self.job_id)
            .field("errors", &self.errors)
            .field(
                "description_xz",
                &format_args!("{} bytes", self.description_xz.len()),
            )
            .field("log_lines", &self.log_lines)
            .finish()
    }
}

/// One control-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A worker greets the master.
    Hello {
        /// The worker's protocol version (must be [`PROTOCOL_VERSION`]).
        version: u32,
    },
    /// A worker greets again because no `HELLO_OK` came within 5 s.
    HelloRetry {
        /// The worker's protocol version.
        version: u32,
    },
    /// The master accepts the greeting.
    HelloOk,
    /// A sign of life from a worker (or from a log daemon).
    Ping,
    /// The master's answer to `PING`.
    Pong {
        /// Seconds the peer should wait between PINGs.
        interval: u32,
    },
    /// Start a job.
    Start(Box<StartJob>),
    /// The worker runs (or already ran) the job.
    StartOk {
        /// The job id.
        job_id: JobId,
    },
    /// Cancel a job.
    Cancel {
        /// The job id.
        job_id: JobId,
    },
    /// Ask a worker about a job the master believes is running.
    Status {
        /// The job id.
        job_id: JobId,
    },
    /// A job ended on the worker.
    End(JobEnd),
    /// The master recorded the end; the worker may forget the job.
    EndOk {
        /// The job id.
        job_id: JobId,
    },
    /// The master stored fewer log lines than the worker's END says were
    /// sent (it was killed while lines were in flight): the worker answers
    /// with the job's journal. Only sent to workers whose END carried the
    /// line count, that is workers of this project.
    LogSync {
        /// The job id.
        job_id: JobId,
    },
    /// Every log line lava-run sent for a job, one per line, compressed
    /// with xz (the answer to `LOG_SYNC`).
    LogSyncData {
        /// The job id.
        job_id: JobId,
        /// The journal, xz-compressed.
        journal_xz: Vec<u8>,
    },
}

impl Message {
    /// The message's command.
    pub fn command(&self) -> Command {
        match self {
            Message::Hello { .. } => Command::Hello,
            Message::HelloRetry { .. } => Command::HelloRetry,
            Message::HelloOk => Command::HelloOk,
            Message::Ping => Command::Ping,
            Message::Pong { .. } => Command::Pong,
            Message::Start(_) => Command::Start,
            Message::StartOk { .. } => Command::StartOk,
            Message::Cancel { .. } => Command::Cancel,
            Message::Status { .. } => Command::Status,
            Message::End(_) => Command::End,
            Message::EndOk { .. } => Command::EndOk,
            Message::LogSync { .. } => Command::LogSync,
            Message::LogSyncData { .. } => Command::LogSyncData,
        }
    }

    /// The job this message is about, if any.
    pub fn job_id(&self) -> Option<JobId> {
        match self {
            Message::Start(start) => Some(start.job_id),
            Message::End(end) => Some(end.job_id),
            Message::StartOk { job_id }
            | Message::Cancel { job_id }
            | Message::Status { job_id }
            | Message::EndOk { job_id }
            | Message::LogSync { job_id }
            | Message::LogSyncData { job_id, .. } => Some(*job_id),
            _ => None,
        }
    }

    /// The wire frames of this message (routing frame excluded).
    pub fn encode(&self) -> Vec<Vec<u8>> {
        let mut frames = vec![self.command().name().as_bytes().to_vec()];
        let number = |n: u64| n.to_string().into_bytes();
        match self {
            Message::Hello { version } | Message::HelloRetry { version } => {
                frames.push(number(u64::from(*version)))
            }
            Message::HelloOk | Message::Ping => {}
            Message::Pong { interval } => frames.push(number(u64::from(*interval))),
            Message::Start(start) => {
                frames.push(number(start.job_id));
                for text in [
                    &start.definition,
                    &start.device,
                    &start.dispatcher,
                    &start.env,
                    &start.env_dut,
                ] {
                    frames.push(text.as_bytes().to_vec());
                }
            }
            Message::StartOk { job_id }
            | Message::Cancel { job_id }
            | Message::Status { job_id }
            | Message::EndOk { job_id }
            | Message::LogSync { job_id } => frames.push(number(*job_id)),
            Message::End(end) => {
                frames.push(number(end.job_id));
                frames.push(end.errors.as_bytes().to_vec());
                frames.push(end.description_xz.clone());
                if let Some(lines) = end.log_lines {
                    frames.push(number(lines));
                }
            }
            Message::LogSyncData { job_id, journal_xz } => {
                frames.push(number(*job_id));
                frames.push(journal_xz.clone());
            }
        }
        frames
    }

    /// Decode wire frames (routing frame excluded). Never panics: every
    /// malformed input is a [`ProtoError`] naming the command and frame.
    pub fn decode<F: AsRef<[u8]>>(frames: &[F]) -> Result<Message, ProtoError> {
        let first = frames.first().ok_or(ProtoError::NoFrames)?.as_ref();
        let command = Command::from_frame(first).ok_or_else(|| ProtoError::UnknownCommand {
            command: printable(first),
        })?;
        let ok = match command.frame_count() {
            FrameCount::Exactly(n) => frames.len() == n,
            FrameCount::AtLeast(n) => frames.len() >= n,
        };
        if !ok {
            return Err(ProtoError::FrameCount {
                command,
                expected: command.frame_count(),
                got: frames.len(),
            });
        }
        let fields = Fields { command, frames };
        Ok(match command {
            Command::Hello => Message::Hello {
                version: fields.integer(1, "protocol version")?,
            },
            Command::HelloRetry => Message::HelloRetry {
                version: fields.integer(1, "protocol version")?,
            },
            Command::HelloOk => Message::HelloOk,
            Command::Ping => Message::Ping,
            Command::Pong => Message::Pong {
                interval: fields.integer(1, "ping interval")?,
            },
            Command::Start => Message::Start(Box::new(StartJob {
                job_id: fields.job_id()?,
                definition: fields.text(2, "job definition")?,
                device: fields.text(3, "device configuration")?,
                dispatcher: fields.text(4, "dispatcher configuration")?,
                env: fields.text(5, "env")?,
                env_dut: fields.text(6, "env-dut")?,
            })),
            Command::StartOk => Message::StartOk {
                job_id: fields.job_id()?,
            },
            Command::Cancel => Message::Cancel {
                job_id: fields.job_id()?,
            },
            Command::Status => Message::Status {
                job_id: fields.job_id()?,
            },
            Command::End => Message::End(JobEnd {
                job_id: fields.job_id()?,
                errors: fields.text(2, "errors")?,
                description_xz: frames[3].as_ref().to_vec(),
                // extra frames are ignored (LAVA's rule), so a fifth frame
                // that is not a count is too
                log_lines: frames.get(4).and_then(|f| parse_decimal(f.as_ref())),
            }),
            Command::EndOk => Message::EndOk {
                job_id: fields.job_id()?,
            },
            Command::LogSync => Message::LogSync {
                job_id: fields.job_id()?,
            },
            Command::LogSyncData => Message::LogSyncData {
                job_id: fields.job_id()?,
                journal_xz: frames[2].as_ref().to_vec(),
            },
        })
    }
}

impl fmt::Display for Message {
    /// A short form for daemon logs, e.g. `START(42)` or `PONG(20)`; never
    /// prints payloads (they may hold secrets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Hello { version } | Message::HelloRetry { version } => {
                write!(f, "{}(v{version})", self.command())
            }
            Message::Pong { interval } => write!(f, "PONG({interval})"),
            other => match other.job_id() {
                Some(id) => write!(f, "{}({id})", other.command()),
                None => write!(f, "{}", other.command()),
            },
        }
    }
}

/// Frame access with errors that name the command, frame and field.
struct Fields<'a, F> {
    command: Command,
    frames: &'a [F],
}

impl<F: AsRef<[u8]>> Fields<'_, F> {
    fn raw(&self, index: usize) -> &[u8] {
        self.frames[index].as_ref()
    }

    fn text(&self, index: usize, field: &'static str) -> Result<String, ProtoError> {
        String::from_utf8(self.raw(index).to_vec()).map_err(|e| ProtoError::InvalidUtf8 {
            command: self.command,
            frame: index,
            field,
            offset: e.utf8_error().valid_up_to(),
        })
    }

    fn integer<T: TryFrom<u64>>(&self, index: usize, field: &'static str) -> Result<T, ProtoError> {
        let raw = self.raw(index);
        parse_decimal(raw)
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| ProtoError::InvalidInteger {
                command: self.command,
                frame: index,
                field,
                value: printable(raw),
            })
    }

    fn job_id(&self) -> Result<JobId, ProtoError> {
        self.integer(1, "job id")
    }
}

/// Parse a non-negative decimal integer the way Python's `int()` accepts it:
/// surrounding ASCII whitespace, an optional `+`, digits with single
/// underscores between them.
pub fn parse_decimal(raw: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(raw)
        .ok()?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value: u64 = 0;
    for byte in digits.bytes() {
        match byte {
            b'_' => continue,
            b'0'..=b'9' => {
                value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
            }
            _ => return None,
        }
    }
    Some(value)
}

/// A frame shown in an error message: lossy UTF-8, control characters
/// escaped, at most 64 characters.
pub(crate) fn printable(raw: &[u8]) -> String {
    const MAX: usize = 64;
    let text = String::from_utf8_lossy(raw);
    let mut shown: String = text
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > MAX {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn frames_match_the_layouts_of_protocol_md_section_4() {
        let end = JobEnd::new(12, "oops", Some(b"x"));
        let xz = end.description_xz.clone();
        let table: Vec<(Message, Vec<Vec<u8>>)> = vec![
            (Message::Hello { version: 3 }, frames(&["HELLO", "3"])),
            (
                Message::HelloRetry { version: 3 },
                frames(&["HELLO_RETRY", "3"]),
            ),
            (Message::HelloOk, frames(&["HELLO_OK"])),
            (Message::Ping, frames(&["PING"])),
            (Message::Pong { interval: 20 }, frames(&["PONG", "20"])),
            (
                Message::Start(Box::new(StartJob {
                    job_id: 12,
                    definition: "def".into(),
                    device: "dev".into(),
                    dispatcher: String::new(),
                    env: "env".into(),
                    env_dut: String::new(),
                })),
                frames(&["START", "12", "def", "dev", "", "env", ""]),
            ),
            (Message::StartOk { job_id: 12 }, frames(&["START_OK", "12"])),
            (Message::Cancel { job_id: 12 }, frames(&["CANCEL", "12"])),
            (Message::Status { job_id: 12 }, frames(&["STATUS", "12"])),
            (
                Message::End(end),
                vec![b"END".to_vec(), b"12".to_vec(), b"oops".to_vec(), xz],
            ),
            (
                Message::End(JobEnd::new(13, "", None)),
                frames(&["END", "13", "", ""]),
            ),
            (Message::EndOk { job_id: 12 }, frames(&["END_OK", "12"])),
        ];
        for (message, expected) in table {
            assert_eq!(message.encode(), expected, "{message}");
            assert_eq!(Message::decode(&expected).unwrap(), message);
        }
    }

    #[test]
    fn the_log_sync_extension_adds_frames_lava_ignores() {
        let table: Vec<(Message, Vec<Vec<u8>>)> = vec![
            (
                Message::End(JobEnd::new(13, "", None).with_log_lines(250)),
                frames(&["END", "13", "", "", "250"]),
            ),
            (Message::LogSync { job_id: 13 }, frames(&["LOG_SYNC", "13"])),
            (
                Message::LogSyncData {
                    job_id: 13,
                    journal_xz: b"xz".to_vec(),
                },
                frames(&["LOG_SYNC_DATA", "13", "xz"]),
            ),
        ];
        // an END with the count is still a LAVA END: four frames first
        let Message::End(plain) = Message::decode(&frames(&["END", "13", "", ""])).unwrap() else {
            unreachable!()
        };
        assert_eq!(plain.log_lines, None);
        // a fifth frame that is no count is ignored, as LAVA ignores it
        let Message::End(other) = Message::decode(&frames(&["END", "13", "", "", "x"])).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(other.log_lines, None);
        assert!(Message::decode(&frames(&["LOG_SYNC_DATA", "13"])).is_err());
        for (message, expected) in table {
            assert_eq!(message.encode(), expected, "{message}");
            assert_eq!(Message::decode(&expected).unwrap(), message);
        }
    }

    #[test]
    fn python_int_forms_are_accepted_for_job_ids() {
        assert_eq!(parse_decimal(b"1234"), Some(1234));
        assert_eq!(parse_decimal(b" 12\n"), Some(12));
        assert_eq!(parse_decimal(b"+7"), Some(7));
        assert_eq!(parse_decimal(b"1_000"), Some(1000));
        for bad in [
            &b""[..],
            b"-1",
            b"1__0",
            b"_1",
            b"1_",
            b"0x10",
            b"1.0",
            b"12a",
            b"99999999999999999999999",
        ] {
            assert_eq!(
                parse_decimal(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn start_needs_exactly_seven_frames() {
        let six = frames(&["START", "1", "def", "dev", "disp", "env"]);
        let eight = frames(&["START", "1", "def", "dev", "disp", "env", "dut", "extra"]);
        for bad in [six, eight] {
            match Message::decode(&bad) {
                Err(ProtoError::FrameCount {
                    command: Command::Start,
                    got,
                    ..
                }) => {
                    assert_eq!(got, bad.len())
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn minimum_counts_ignore_trailing_frames() {
        let msg = Message::decode(&frames(&["HELLO_OK", "extra"])).unwrap();
        assert_eq!(msg, Message::HelloOk);
        let msg = Message::decode(&frames(&["CANCEL", "5", "x", "y"])).unwrap();
        assert_eq!(msg, Message::Cancel { job_id: 5 });
        let err = Message::decode(&frames(&["END", "5", "errors"])).unwrap_err();
        assert!(matches!(
            err,
            ProtoError::FrameCount {
                command: Command::End,
                got: 3,
                ..
            }
        ));
    }

    #[test]
    fn display_never_shows_payloads() {
        let start = Message::Start(Box::new(StartJob {
            job_id: 9,
            definition: "secrets: {token: hunter2}".into(),
            ..Default::default()
        }));
        assert_eq!(start.to_string(), "START(9)");
        assert_eq!(Message::Pong { interval: 20 }.to_string(), "PONG(20)");
        assert_eq!(Message::Hello { version: 3 }.to_string(), "HELLO(v3)");
    }
}
