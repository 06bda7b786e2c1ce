//! Reading `<LAVA_SIGNAL_NAME params>` signals out of console lines,
//! tolerantly (docs/pipeline.md §11.3, §14.13).
//!
//! A kernel message printed in the middle of a signal splits it over two
//! lines:
//!
//! ```text
//! <LAVA_SIGNAL_TESTCASE TEST_CASE_ID=ping RE[   12.345678] random: crng init done
//! SULT=pass>
//! ```
//!
//! The parser keeps the unfinished signal, drops the kernel message (from
//! its `[ seconds.micros]` stamp to the end of the line, and whole kernel
//! lines in between), and completes the signal with the next lines. A
//! fragment that cannot be completed (another signal starts first, too many
//! lines pass, or the console ends) is returned as [`Event::Corrupted`] so
//! that the test shell reports it: a signal is never silently lost.
//!
//! ```
//! use lava_pipeline::unstable::actions::test::signals::{Event, SignalParser};
//!
//! let mut parser = SignalParser::new();
//! assert!(parser.feed_line("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=ping RE[   12.345678] random: crng init done").is_empty());
//! let events = parser.feed_line("SULT=pass>");
//! assert_eq!(events, [Event::Signal { name: "TESTCASE".into(), params: vec!["TEST_CASE_ID=ping".into(), "RESULT=pass".into()] }]);
//! ```

use regex::Regex;

/// What a console line carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete signal.
    Signal {
        /// `STARTRUN`, `TESTCASE`...
        name: String,
        /// The parameters, split on whitespace.
        params: Vec<String>,
    },
    /// `<LAVA_TEST_RUNNER EXIT>`.
    RunnerExit,
    /// `<LAVA_TEST_RUNNER INSTALL_FAIL>`.
    InstallFail,
    /// A signal that could not be recovered.
    Corrupted {
        /// What was seen of it.
        text: String,
        /// Why it was given up.
        reason: &'static str,
    },
}

/// Lines a split signal may span before it is given up.
const MAX_CONTINUATION_LINES: usize = 8;

/// The parser. See the module documentation.
#[derive(Debug)]
pub struct SignalParser {
    signal: Regex,
    kernel_stamp: Regex,
    kernel_line: Regex,
    pending: Option<(String, usize)>,
}

impl Default for SignalParser {
    fn default() -> Self {
        SignalParser::new()
    }
}

const START: &str = "<LAVA_SIGNAL_";

impl SignalParser {
    /// A parser with nothing pending.
    pub fn new() -> Self {
        SignalParser {
            signal: Regex::new(r"<LAVA_SIGNAL_(\S+) ([^>]*)>").expect("constant regex"),
            kernel_stamp: Regex::new(r"(<\d>)?\[\s*\d+\.\d+\]").expect("constant regex"),
            kernel_line: Regex::new(r"^\s*(<\d>)?\[\s*\d+\.\d+\]").expect("constant regex"),
            pending: None,
        }
    }

    #[cfg(test)]
    /// Whether a split signal is waiting for its end.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Strip a kernel message (from its stamp to the end) off a fragment.
    fn strip_kernel(&self, fragment: &str) -> String {
        match self.kernel_stamp.find(fragment) {
            Some(m) => fragment[..m.start()].to_string(),
            None => fragment.to_string(),
        }
    }

    /// The events of one console line (without its newline).
    pub fn feed_line(&mut self, line: &str) -> Vec<Event> {
        let mut events = Vec::new();
        let line = line.replace('\r', "");
        let mut rest: &str = &line;
        if let Some((mut fragment, lines)) = self.pending.take() {
            let kernel_only = self.kernel_line.is_match(rest) && !rest.contains(START);
            if kernel_only {
                if lines + 1 > MAX_CONTINUATION_LINES {
                    events.push(Event::Corrupted {
                        text: fragment,
                        reason: "the signal was never completed",
                    });
                } else {
                    self.pending = Some((fragment, lines + 1));
                }
                return events;
            }
            let close = rest.find('>');
            let restart = rest.find(START);
            let closes_first = match (close, restart) {
                (Some(c), Some(r)) => c < r,
                (Some(_), None) => true,
                _ => false,
            };
            match (close.filter(|_| closes_first), restart) {
                (Some(c), _) => {
                    fragment.push_str(&rest[..=c]);
                    events.extend(self.complete(&fragment));
                    rest = &rest[c + 1..];
                }
                (_, Some(_)) => {
                    events.push(Event::Corrupted {
                        text: fragment,
                        reason: "another signal started before it ended",
                    });
                }
                (None, None) => {
                    if lines + 1 > MAX_CONTINUATION_LINES {
                        events.push(Event::Corrupted {
                            text: fragment,
                            reason: "the signal was never completed",
                        });
                    } else {
                        fragment.push_str(&self.strip_kernel(rest));
                        self.pending = Some((fragment, lines + 1));
                        return events;
                    }
                    rest = "";
                }
            }
        }
        let mut last = 0;
        for caps in self.signal.captures_iter(rest) {
            let (Some(whole), Some(name), Some(params)) = (caps.get(0), caps.get(1), caps.get(2))
            else {
                continue;
            };
            events.extend(self.runner_markers(&rest[last..whole.start()]));
            events.push(Event::Signal {
                name: name.as_str().to_string(),
                params: params
                    .as_str()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            });
            last = whole.end();
        }
        let tail = &rest[last..];
        match tail.find(START) {
            Some(i) => {
                events.extend(self.runner_markers(&tail[..i]));
                let fragment = self.strip_kernel(&tail[i..]);
                self.pending = Some((fragment, 0));
            }
            None => events.extend(self.runner_markers(tail)),
        }
        events
    }

    fn complete(&self, text: &str) -> Vec<Event> {
        match self.signal.captures(text) {
            Some(caps) => vec![Event::Signal {
                name: caps[1].to_string(),
                params: caps[2].split_whitespace().map(str::to_string).collect(),
            }],
            None => vec![Event::Corrupted {
                text: text.to_string(),
                reason: "the signal has no name or parameters",
            }],
        }
    }

    fn runner_markers(&self, text: &str) -> Vec<Event> {
        let mut out = Vec::new();
        if text.contains("<LAVA_TEST_RUNNER INSTALL_FAIL>") {
            out.push(Event::InstallFail);
        }
        if text.contains("<LAVA_TEST_RUNNER EXIT>") {
            out.push(Event::RunnerExit);
        }
        out
    }

    /// The console ended: a pending fragment is lost and reported.
    pub fn finish(&mut self) -> Vec<Event> {
        self.pending
            .take()
            .map(|(text, _)| Event::Corrupted {
                text,
                reason: "the console ended before the signal did",
            })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(name: &str, params: &[&str]) -> Event {
        Event::Signal {
            name: name.into(),
            params: params.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn plain_signals_anywhere_in_a_line() {
        let mut p = SignalParser::new();
        assert_eq!(
            p.feed_line("<LAVA_SIGNAL_STARTRUN 0_smoke 12_1.2.3.1>"),
            [sig("STARTRUN", &["0_smoke", "12_1.2.3.1"])]
        );
        assert_eq!(
            p.feed_line("[   3.1] kmsg: <LAVA_SIGNAL_ENDTC x> and <LAVA_SIGNAL_TESTSET STOP>\r"),
            [sig("ENDTC", &["x"]), sig("TESTSET", &["STOP"])]
        );
        assert_eq!(p.feed_line("<LAVA_TEST_RUNNER EXIT>"), [Event::RunnerExit]);
        assert_eq!(
            p.feed_line("+ <LAVA_TEST_RUNNER INSTALL_FAIL>"),
            [Event::InstallFail]
        );
        assert!(p.feed_line("nothing here").is_empty());
        assert!(!p.is_pending());
    }

    #[test]
    fn split_by_a_kernel_message_is_recovered() {
        let mut p = SignalParser::new();
        assert!(p
            .feed_line(
                "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a RESULT=pa[ 1.000001] usb 1-1: new device"
            )
            .is_empty());
        assert!(p.is_pending());
        assert_eq!(
            p.feed_line("ss MEASUREMENT=3.5 UNITS=ms>"),
            [sig(
                "TESTCASE",
                &[
                    "TEST_CASE_ID=a",
                    "RESULT=pass",
                    "MEASUREMENT=3.5",
                    "UNITS=ms"
                ]
            )]
        );
    }

    #[test]
    fn whole_kernel_lines_in_between_are_skipped() {
        let mut p = SignalParser::new();
        assert!(p
            .feed_line("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=b")
            .is_empty());
        assert!(p.feed_line("[   5.5] eth0: link up").is_empty());
        assert!(p.feed_line("<6>[   5.6] another one").is_empty());
        assert_eq!(
            p.feed_line(" RESULT=fail> trailing <LAVA_SIGNAL_ENDTC b>"),
            [
                sig("TESTCASE", &["TEST_CASE_ID=b", "RESULT=fail"]),
                sig("ENDTC", &["b"])
            ]
        );
    }

    #[test]
    fn unrecoverable_fragments_are_reported() {
        let mut p = SignalParser::new();
        p.feed_line("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=c");
        let events = p.feed_line("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=d RESULT=pass>");
        assert!(
            matches!(&events[0], Event::Corrupted { text, .. } if text.contains("TEST_CASE_ID=c"))
        );
        assert_eq!(
            events[1],
            sig("TESTCASE", &["TEST_CASE_ID=d", "RESULT=pass"])
        );

        p.feed_line("<LAVA_SIGNAL_STARTTC e");
        let mut reported = Vec::new();
        for _ in 0..20 {
            reported.extend(p.feed_line("garbage"));
        }
        assert!(matches!(reported.as_slice(), [Event::Corrupted { .. }]));

        p.feed_line("<LAVA_SIGNAL_ENDTC f");
        assert!(matches!(p.finish().as_slice(), [Event::Corrupted { .. }]));
        assert!(p.finish().is_empty());
    }

    #[test]
    fn never_panics_on_odd_input() {
        let mut p = SignalParser::new();
        for line in [
            "<LAVA_SIGNAL_",
            "<LAVA_SIGNAL_>",
            ">",
            "<LAVA_SIGNAL_X",
            ">>>",
            "é<LAVA_SIGNAL_é é>",
            "\u{0}",
        ] {
            let _ = p.feed_line(line);
        }
        let _ = p.finish();
    }
}
