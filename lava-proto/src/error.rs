//! The error type of wire decoding.

use crate::control::{Command, FrameCount};

/// Why frames received from a peer could not be decoded.
///
/// Every variant names the command and the frame at fault so that a daemon
/// can log one line and carry on; none of them is fatal to a daemon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// A message without any frame.
    #[error("empty message (no frames)")]
    NoFrames,
    /// The first frame is not a known command.
    #[error("unknown command '{command}'")]
    UnknownCommand {
        /// The first frame, made printable.
        command: String,
    },
    /// Too few or too many frames for the command.
    #[error("{command} needs {expected} frames, got {got}")]
    FrameCount {
        /// The command.
        command: Command,
        /// The rule that was broken.
        expected: FrameCount,
        /// The number of frames received.
        got: usize,
    },
    /// A frame that must hold a decimal integer does not.
    #[error("{command} frame {frame} ({field}) is not a valid integer: '{value}'")]
    InvalidInteger {
        /// The command (`None` for log messages).
        command: Command,
        /// Index of the frame (0 = command).
        frame: usize,
        /// What the frame holds.
        field: &'static str,
        /// The frame, made printable.
        value: String,
    },
    /// A text frame that is not UTF-8.
    #[error("{command} frame {frame} ({field}) is not valid UTF-8 (at byte {offset})")]
    InvalidUtf8 {
        /// The command.
        command: Command,
        /// Index of the frame.
        frame: usize,
        /// What the frame holds.
        field: &'static str,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A log message without exactly two frames.
    #[error("log message needs exactly 2 frames (job id, line), got {got}")]
    LogFrameCount {
        /// The number of frames received.
        got: usize,
    },
    /// A log message whose first frame is not a job id.
    #[error("log message frame 0 (job id) is not a valid integer: '{value}'")]
    LogJobId {
        /// The frame, made printable.
        value: String,
    },
    /// A log message whose line is not UTF-8.
    #[error("log message frame 1 (line) is not valid UTF-8 (at byte {offset})")]
    LogUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The END description is not a valid xz (or lzma) stream.
    #[error("END description: {reason}")]
    Description {
        /// What is wrong with the compressed data.
        reason: String,
    },
    /// The journal of LOG_SYNC_DATA is not a valid xz stream.
    #[error("LOG_SYNC_DATA journal: {reason}")]
    Journal {
        /// What is wrong with the compressed data.
        reason: String,
    },
}
