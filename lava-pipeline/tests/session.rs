//! The shell session on a real pty: character delay, line separators,
//! bounded waits, end of file, feedback, and the early-failure check of
//! the console command.

use std::time::{Duration, Instant};

use lava_pipeline::connection::LineOutcome;
use lava_pipeline::connection::Pattern;
use lava_pipeline::connection::{SessionKind, ShellSession, WaitOutcome};
use lava_pipeline::CancelToken;
use lava_pipeline::Deadline;
use lava_pipeline::ErrorKind;
use lava_pipeline::Logger;
use lava_proto::log::LogLevel;

fn echo_board() -> Vec<String> {
    // repeats every line it reads, with the bytes it got (\r shown as <CR>)
    vec![
        "sh".into(),
        "-c".into(),
        "echo ready; while IFS= read -r l; do printf 'got[%s]\\n' \"$(printf '%s' \"$l\" | sed 's/\\r/<CR>/')\"; done".into(),
    ]
}

fn until(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

#[test]
fn character_delay_and_line_separators() {
    let (logger, memory) = Logger::memory("1");
    let cancel = CancelToken::new().unwrap();
    let mut s = ShellSession::spawn(&echo_board(), logger, SessionKind::Plain).unwrap();
    let ready = [Pattern::new("ready").unwrap()];
    assert!(matches!(
        s.expect(&ready, until(10), &cancel).unwrap(),
        WaitOutcome::Matched(_)
    ));
    let started = Instant::now();
    s.sendline("abcdefghij", Duration::from_millis(20), &cancel)
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "11 characters, 20 ms apart"
    );
    let got = [Pattern::new(r"got\[(?P<line>[^\]]*)\]").unwrap()];
    let WaitOutcome::Matched(m) = s.expect(&got, until(10), &cancel).unwrap() else {
        panic!()
    };
    assert_eq!(m.groups[0].1, "abcdefghij");
    s.line_separator = "\r\n".into();
    s.sendline("uefi", Duration::ZERO, &cancel).unwrap();
    let WaitOutcome::Matched(m) = s.expect(&got, until(10), &cancel).unwrap() else {
        panic!()
    };
    assert_eq!(m.groups[0].1, "uefi<CR>");
    // the pty is raw, like a serial line: a control character is a byte
    s.sendcontrol('d').unwrap();
    assert_eq!(
        s.read_line(until(10), &cancel).unwrap(),
        LineOutcome::Line(String::new())
    );
    s.finalise_quietly();
    let inputs = memory.messages(LogLevel::Input);
    assert_eq!(inputs, ["abcdefghij\n", "uefi\r\n", "d"]);
    let targets = memory.messages(LogLevel::Target);
    assert_eq!(targets, ["ready", "got[abcdefghij]", "got[uefi<CR>]"]);
}

#[test]
fn waits_end_at_their_deadline_or_on_cancel() {
    let (logger, _memory) = Logger::memory("1");
    let cancel = CancelToken::new().unwrap();
    let argv = vec![
        "sh".into(),
        "-c".into(),
        "echo 'board# '; exec sleep 60".into(),
    ];
    let mut s = ShellSession::spawn(&argv, logger, SessionKind::Plain).unwrap();
    s.prompts = vec!["never# ".into()];
    s.connection_timeout = Duration::from_millis(300);
    // the connection timeout passes first: a Job error
    let deadline = Deadline::after(
        Duration::from_secs(30),
        "auto-login-action",
        ErrorKind::Infrastructure,
    );
    let started = Instant::now();
    let e = s.wait_prompt(&deadline, &cancel).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Job, "wait for prompt timed out")
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // the action's deadline passes first: its own class and scope
    s.connection_timeout = Duration::from_secs(30);
    let deadline = Deadline::after(
        Duration::from_millis(300),
        "bootloader-interrupt",
        ErrorKind::Infrastructure,
    );
    let e = s.wait_prompt(&deadline, &cancel).unwrap_err();
    assert_eq!(
        (e.kind, e.expired.as_deref()),
        (ErrorKind::Infrastructure, Some("bootloader-interrupt"))
    );
    // a cancel from another thread wakes the wait at once
    let canceller = cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let deadline = Deadline::after(Duration::from_secs(30), "x", ErrorKind::Job);
    let started = Instant::now();
    let e = s.wait_prompt(&deadline, &cancel).unwrap_err();
    t.join().unwrap();
    assert_eq!(e.kind, ErrorKind::Canceled);
    assert!(started.elapsed() < Duration::from_secs(5));
    s.finalise_quietly();
}

#[test]
fn end_of_file_is_a_closed_connection() {
    let (logger, _memory) = Logger::memory("1");
    let cancel = CancelToken::new().unwrap();
    let argv = vec!["sh".into(), "-c".into(), "echo bye".into()];
    let mut s = ShellSession::spawn(&argv, logger, SessionKind::Plain).unwrap();
    s.prompts = vec!["# ".into()];
    let deadline = Deadline::after(Duration::from_secs(10), "x", ErrorKind::Job);
    let e = s.wait_prompt(&deadline, &cancel).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Infrastructure, "Connection closed")
    );
    assert!(s.is_eof());
}

#[test]
fn qemu_sessions_power_off_when_finalised() {
    let (logger, memory) = Logger::memory("1");
    let argv = vec![
        "sh".into(),
        "-c".into(),
        "read cmd; echo \"guest: $cmd\"; exit 0".into(),
    ];
    let mut s = ShellSession::spawn(&argv, logger.clone(), SessionKind::Qemu).unwrap();
    let started = Instant::now();
    s.finalise(&logger);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ends as soon as the guest exits"
    );
    assert!(memory
        .messages(LogLevel::Target)
        .contains(&"guest: poweroff".to_string()));
}
