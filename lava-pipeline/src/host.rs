//! Commands run on the worker (power control, `mke2fs`, `git`...): no
//! shell, words split as a POSIX shell splits them, standard output and
//! error merged and logged line by line as `>> <line>`, bounded by a
//! deadline and the cancel token (the process group is killed when either
//! fires).
//!
//! ```
//! use lava_pipeline::CancelToken;
//! use lava_pipeline::ErrorKind;
//! use lava_pipeline::host::{run, split_command};
//! use lava_pipeline::Logger;
//! use lava_pipeline::Deadline;
//! use std::time::Duration;
//!
//! assert_eq!(split_command(r#"echo 'a b' "c\"d" e\ f"#).unwrap(), ["echo", "a b", "c\"d", "e f"]);
//! let (logger, memory) = Logger::memory("1");
//! let deadline = Deadline::after(Duration::from_secs(10), "power-on", ErrorKind::Infrastructure);
//! let out = run(&split_command("sh -c 'echo on; exit 0'").unwrap(), &deadline,
//!               &CancelToken::new().unwrap(), &logger, ErrorKind::Infrastructure).unwrap();
//! assert_eq!(out.output, "on\n");
//! assert!(memory.messages(lava_proto::log::LogLevel::Debug).contains(&">> on".to_string()));
//! ```

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cancel::{wait_readable, CancelToken};
use crate::error::{Error, ErrorKind};
use crate::logger::Logger;
use crate::timeout::Deadline;

/// Split a command line into words as a POSIX shell would (quotes and
/// backslashes; no expansions).
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in: {line}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated double quote in: {line}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in: {line}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => word.push(c),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Quote a word for a POSIX shell.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\"'\"'"))
    }
}

/// What a finished command gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output and error, merged.
    pub output: String,
}

/// Which path `which` finds `name` at.
pub fn which(name: &str) -> Result<std::path::PathBuf, Error> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        let p = std::path::PathBuf::from(name);
        if executable(&p) {
            return Ok(p);
        }
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let extra = ["/usr/local/sbin", "/usr/sbin", "/sbin"];
        for dir in std::env::split_paths(&path).chain(extra.iter().map(Into::into)) {
            let p = dir.join(name);
            if executable(&p) {
                return Ok(p);
            }
        }
    }
    Err(Error::infrastructure(format!(
        "Cannot find command '{name}' in $PATH"
    )))
}

/// Run `argv`, logging its output, until it exits, `deadline` passes or
/// the job is canceled. A non-zero exit is an error of class `kind`.
pub fn run(
    argv: &[String],
    deadline: &Deadline,
    cancel: &CancelToken,
    logger: &Logger,
    kind: ErrorKind,
) -> Result<CommandOutput, Error> {
    let output = run_allow_fail(argv, deadline, cancel, logger)?;
    if output.code != 0 {
        return Err(Error::new(
            kind,
            format!(
                "Unable to run '{}': exit code {}",
                argv.join(" "),
                output.code
            ),
        ));
    }
    Ok(output)
}

/// [`run`] with the file `input` as the command's standard input (what
/// a shell's `< input` does).
pub fn run_with_input(
    argv: &[String],
    input: &std::path::Path,
    deadline: &Deadline,
    cancel: &CancelToken,
    logger: &Logger,
    kind: ErrorKind,
) -> Result<CommandOutput, Error> {
    let file = std::fs::File::open(input).map_err(|e| Error::io(input.display(), e))?;
    let output = spawn_and_wait(argv, Stdio::from(file), deadline, cancel, logger)?;
    if output.code != 0 {
        return Err(Error::new(
            kind,
            format!(
                "Unable to run '{}' < {}: exit code {}",
                argv.join(" "),
                input.display(),
                output.code
            ),
        ));
    }
    Ok(output)
}

/// [`run`] without failing on a non-zero exit code.
pub fn run_allow_fail(
    argv: &[String],
    deadline: &Deadline,
    cancel: &CancelToken,
    logger: &Logger,
) -> Result<CommandOutput, Error> {
    spawn_and_wait(argv, Stdio::null(), deadline, cancel, logger)
}

fn spawn_and_wait(
    argv: &[String],
    stdin: Stdio,
    deadline: &Deadline,
    cancel: &CancelToken,
    logger: &Logger,
) -> Result<CommandOutput, Error> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::job("empty command"));
    };
    logger.debug(format!("Calling: '{}'", argv.join("' '")));
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::infrastructure(format!(
            "pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: pipe2 succeeded; we own both descriptors.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let started = Instant::now();
    let spawned = Command::new(program)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::from(writer.try_clone()?))
        .stderr(Stdio::from(writer))
        .process_group(0)
        .spawn();
    let mut child = spawned
        .map_err(|e| Error::infrastructure(format!("Unable to run '{}': {e}", argv.join(" "))))?;
    let mut file = std::fs::File::from(reader);
    let mut output = Vec::new();
    let mut partial = Vec::new();
    let mut buf = [0u8; 8192];
    let log_lines = |partial: &mut Vec<u8>, all: bool| {
        while let Some(i) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=i).collect();
            logger.debug(format!(
                ">> {}",
                String::from_utf8_lossy(&line[..line.len() - 1])
            ));
        }
        if all && !partial.is_empty() {
            logger.debug(format!(">> {}", String::from_utf8_lossy(partial)));
            partial.clear();
        }
    };
    let kill = |child: &mut std::process::Child| {
        // SAFETY: signalling the process group of our own child.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = child.wait();
    };
    loop {
        let ready = match wait_readable(file.as_raw_fd(), deadline.at, cancel) {
            Ok(ready) => ready,
            Err(e) => {
                kill(&mut child);
                return Err(e);
            }
        };
        if !ready {
            kill(&mut child);
            log_lines(&mut partial, true);
            logger.error(format!(
                "Timed out after {} seconds",
                started.elapsed().as_secs()
            ));
            return Err(deadline.error());
        }
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                output.extend_from_slice(&buf[..n]);
                partial.extend_from_slice(&buf[..n]);
                log_lines(&mut partial, false);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                kill(&mut child);
                return Err(e.into());
            }
        }
    }
    log_lines(&mut partial, true);
    let status = child.wait()?;
    let code = status.code().unwrap_or(-1);
    logger.debug(format!(
        "Returned {code} in {} seconds",
        started.elapsed().as_secs()
    ));
    Ok(CommandOutput {
        code,
        output: String::from_utf8_lossy(&output).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn splitting() {
        assert_eq!(split_command("  a  b ").unwrap(), ["a", "b"]);
        assert_eq!(split_command("a '' b").unwrap(), ["a", "", "b"]);
        assert_eq!(
            split_command(r#"-append "console=ttyS0 root=/dev/ram0""#).unwrap(),
            ["-append", "console=ttyS0 root=/dev/ram0"]
        );
        assert!(split_command("a 'b").is_err());
        assert!(split_command("a \"b").is_err());
        assert_eq!(shell_quote("a b'c"), "'a b'\"'\"'c'");
        assert_eq!(shell_quote("/bin/sh"), "/bin/sh");
    }

    #[test]
    fn timeouts_and_failures() {
        let (logger, _memory) = Logger::memory("1");
        let cancel = CancelToken::new().unwrap();
        let deadline = Deadline::after(
            Duration::from_millis(300),
            "pdu-reboot",
            ErrorKind::Infrastructure,
        );
        let err = run(
            &["sleep".into(), "30".into()],
            &deadline,
            &cancel,
            &logger,
            ErrorKind::Infrastructure,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Infrastructure);
        assert_eq!(err.expired.as_deref(), Some("pdu-reboot"));
        let long = Deadline::after(Duration::from_secs(10), "x", ErrorKind::Job);
        let err = run(
            &["false".into()],
            &long,
            &cancel,
            &logger,
            ErrorKind::Infrastructure,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Infrastructure);
        let err = run(
            &["/nonexistent/x".into()],
            &long,
            &cancel,
            &logger,
            ErrorKind::Job,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Infrastructure);
        assert!(which("sh").is_ok());
        assert!(which("no-such-command-here").is_err());
    }
}
