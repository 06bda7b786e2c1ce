//! The expect engine: a bounded, line-oriented matcher over console output.
//!
//! Output is fed in as it arrives ([`Expect::feed`]); carriage returns are
//! dropped and invalid UTF-8 is replaced. A search ([`Expect::search`])
//! looks for the earliest match of any pattern in the unconsumed text;
//! among patterns matching at the same place, the first in the list wins
//! (LAVA's rule). Patterns match **within one line** (the current partial
//! line included, so prompts without a newline match as soon as they are
//! printed). A [`Cursor`] remembers how far a wait has looked: complete
//! lines are never scanned twice in one wait, only the partial last line
//! is looked at again when more of it arrives — there is no whole-buffer
//! rescan (docs/pipeline.md §14.9).
//!
//! Memory is bounded: unconsumed text beyond [`Expect::with_limits`]'s
//! buffer size is dropped, oldest complete lines first (they were already
//! scanned), and a line longer than the line limit is searched only in its
//! last part.
//!
//! ```
//! use lava_pipeline::{connection::Pattern, unstable::{Cursor, Expect}};
//!
//! let mut engine = Expect::new();
//! let patterns = [Pattern::new("login:").unwrap(), Pattern::new(r"root@\w+:.*# ").unwrap()];
//! let mut cursor = Cursor::default();
//! engine.feed(b"booting...\r\nWelcome\r\nroot@lava:~");
//! assert!(engine.search(&patterns, &mut cursor).is_none());
//! engine.feed(b"# ");
//! let m = engine.search(&patterns, &mut cursor).unwrap();
//! assert_eq!(m.index, 1);
//! assert_eq!(m.matched, "root@lava:~# ");
//! assert_eq!(m.before, "booting...\nWelcome\n");
//! ```

use regex::Regex;

/// A pattern: a regular expression (Rust `regex` syntax, which accepts
/// Python's `(?P<name>...)` groups; lookaround and backreferences are
/// refused when the pattern is built).
#[derive(Debug, Clone)]
pub struct Pattern {
    re: Regex,
}

impl Pattern {
    /// Compile `pattern`.
    pub fn new(pattern: &str) -> Result<Pattern, regex::Error> {
        Ok(Pattern {
            re: Regex::new(pattern)?,
        })
    }

    /// A pattern matching `text` literally.
    pub fn literal(text: &str) -> Pattern {
        Pattern {
            re: Regex::new(&regex::escape(text)).unwrap_or_else(|_| never()),
        }
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }

    /// The compiled expression.
    pub fn regex(&self) -> &Regex {
        &self.re
    }
}

/// A regex that matches nothing (for a literal too big to compile).
fn never() -> Regex {
    Regex::new(r"[^\s\S]").expect("constant regex")
}

/// One match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Index of the pattern that matched.
    pub index: usize,
    /// The unconsumed text before the match.
    pub before: String,
    /// The matched text.
    pub matched: String,
    /// Named groups of the pattern that matched, in pattern order.
    pub groups: Vec<(String, String)>,
}

/// How far one wait has searched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Offset (in the unconsumed text) of the first line not yet fully
    /// searched.
    line: usize,
    generation: u64,
}

/// The engine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Expect {
    buf: String,
    pending: Vec<u8>,
    max_buffer: usize,
    max_line: usize,
    dropped: u64,
    /// Bumped whenever text is consumed or dropped (cursors reset).
    generation: u64,
}

impl Default for Expect {
    fn default() -> Self {
        Expect::new()
    }
}

impl Expect {
    /// An engine keeping at most 1 MiB of unconsumed text, searching at
    /// most the last 16 KiB of a line.
    pub fn new() -> Self {
        Expect::with_limits(1 << 20, 16 << 10)
    }

    /// An engine with explicit limits (bytes).
    pub fn with_limits(max_buffer: usize, max_line: usize) -> Self {
        Expect {
            buf: String::new(),
            pending: Vec::new(),
            max_buffer: max_buffer.max(1024),
            max_line: max_line.max(256),
            dropped: 0,
            generation: 0,
        }
    }

    #[cfg_attr(not(feature = "unstable"), allow(dead_code))]
    /// Bytes of unconsumed text dropped to stay within the buffer size.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The unconsumed text.
    pub fn buffer(&self) -> &str {
        &self.buf
    }

    /// Add output. Carriage returns are removed; invalid UTF-8 becomes
    /// U+FFFD (an incomplete sequence at the end waits for the rest).
    pub fn feed(&mut self, bytes: &[u8]) {
        let data: std::borrow::Cow<'_, [u8]> = if self.pending.is_empty() {
            bytes.into()
        } else {
            let mut joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(bytes);
            joined.into()
        };
        let mut rest: &[u8] = &data;
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.push_text(text);
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // SAFETY-free: `good` is valid UTF-8 by construction
                    self.push_text(std::str::from_utf8(good).unwrap_or_default());
                    match e.error_len() {
                        Some(len) => {
                            self.buf.push('\u{fffd}');
                            rest = &bad[len..];
                        }
                        None => {
                            self.pending = bad.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        self.enforce_limit();
    }

    fn push_text(&mut self, text: &str) {
        if text.contains('\r') {
            self.buf.extend(text.chars().filter(|c| *c != '\r'));
        } else {
            self.buf.push_str(text);
        }
    }

    fn enforce_limit(&mut self) {
        if self.buf.len() <= self.max_buffer {
            return;
        }
        let excess = self.buf.len() - self.max_buffer / 2;
        // cut at a line boundary after `excess` if there is one, else at a
        // character boundary
        let cut = match self.buf[excess..].find('\n') {
            Some(i) if i < self.max_buffer / 4 => excess + i + 1,
            _ => {
                let mut c = excess;
                while !self.buf.is_char_boundary(c) {
                    c += 1;
                }
                c
            }
        };
        self.buf.drain(..cut);
        self.dropped += cut as u64;
        self.generation += 1;
    }

    /// Drop everything unconsumed.
    pub fn clear(&mut self) -> String {
        self.generation += 1;
        std::mem::take(&mut self.buf)
    }

    /// Take the next complete line (without its newline), if any.
    pub fn next_line(&mut self) -> Option<String> {
        let end = self.buf.find('\n')?;
        let mut line: String = self.buf.drain(..=end).collect();
        line.pop();
        self.generation += 1;
        Some(line)
    }

    /// Search for the earliest match of any of `patterns` in the
    /// unconsumed text, continuing from `cursor` (a fresh cursor for each
    /// wait). On a match, the text up to the end of the match is consumed.
    pub fn search(&mut self, patterns: &[Pattern], cursor: &mut Cursor) -> Option<Match> {
        if cursor.generation != self.generation {
            *cursor = Cursor {
                line: 0,
                generation: self.generation,
            };
        }
        let mut start = cursor.line.min(self.buf.len());
        loop {
            let (end, complete) = match self.buf[start..].find('\n') {
                Some(i) => (start + i, true),
                None => (self.buf.len(), false),
            };
            let mut from = start;
            if end - from > self.max_line {
                from = end - self.max_line;
                while !self.buf.is_char_boundary(from) {
                    from += 1;
                }
            }
            let line = &self.buf[from..end];
            let mut best: Option<(usize, usize, usize)> = None; // (start, end, index)
            for (index, pattern) in patterns.iter().enumerate() {
                if let Some(m) = pattern.re.find(line) {
                    if best.is_none_or(|(s, _, _)| m.start() < s) {
                        best = Some((m.start(), m.end(), index));
                    }
                }
            }
            if let Some((s, e, index)) = best {
                let groups = pattern_groups(&patterns[index], &line[s..]);
                let match_start = from + s;
                let match_end = from + e;
                let before = self.buf[..match_start].to_string();
                let matched = self.buf[match_start..match_end].to_string();
                self.buf.drain(..match_end);
                self.generation += 1;
                *cursor = Cursor {
                    line: 0,
                    generation: self.generation,
                };
                return Some(Match {
                    index,
                    before,
                    matched,
                    groups,
                });
            }
            if complete {
                start = end + 1;
                cursor.line = start;
            } else {
                cursor.line = start;
                return None;
            }
        }
    }
}

fn pattern_groups(pattern: &Pattern, text: &str) -> Vec<(String, String)> {
    let Some(caps) = pattern.re.captures(text) else {
        return Vec::new();
    };
    pattern
        .re
        .capture_names()
        .flatten()
        .filter_map(|name| {
            caps.name(name)
                .map(|m| (name.to_string(), m.as_str().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(list: &[&str]) -> Vec<Pattern> {
        list.iter().map(|p| Pattern::new(p).unwrap()).collect()
    }

    #[test]
    fn earliest_match_wins_then_list_order() {
        let mut e = Expect::new();
        let p = pats(&["b+", "a", "ab"]);
        e.feed(b"xxabbb\n");
        let m = e.search(&p, &mut Cursor::default()).unwrap();
        assert_eq!((m.index, m.matched.as_str()), (1, "a"));
        let m = e.search(&p, &mut Cursor::default()).unwrap();
        assert_eq!((m.index, m.matched.as_str()), (0, "bbb"));
        // same position: first in the list
        let mut e = Expect::new();
        e.feed(b"ab");
        let m = e
            .search(&pats(&["ab", "a"]), &mut Cursor::default())
            .unwrap();
        assert_eq!(m.index, 0);
        let mut e = Expect::new();
        e.feed(b"ab");
        let m = e
            .search(&pats(&["a", "ab"]), &mut Cursor::default())
            .unwrap();
        assert_eq!(m.index, 0);
    }

    #[test]
    fn earlier_lines_win_over_earlier_patterns() {
        let mut e = Expect::new();
        e.feed(b"second\nfirst\n");
        let m = e
            .search(&pats(&["first", "second"]), &mut Cursor::default())
            .unwrap();
        assert_eq!(m.index, 1);
        assert_eq!(e.buffer(), "\nfirst\n");
    }

    #[test]
    fn partial_lines_are_rescanned_complete_lines_are_not() {
        let mut e = Expect::new();
        let p = pats(&["prompt# "]);
        let mut cursor = Cursor::default();
        e.feed(b"line one\nline two\npro");
        assert!(e.search(&p, &mut cursor).is_none());
        assert_eq!(cursor.line, "line one\nline two\n".len());
        e.feed(b"mpt# ");
        let m = e.search(&p, &mut cursor).unwrap();
        assert_eq!(m.before, "line one\nline two\n");
    }

    #[test]
    fn named_groups_and_utf8() {
        let mut e = Expect::new();
        e.feed(b"\xc3");
        e.feed(b"\xa9t\xff\xfe: <X id=42>\r\n");
        let p = pats(&[r"<X id=(?P<id>\d+)>"]);
        let m = e.search(&p, &mut Cursor::default()).unwrap();
        assert_eq!(m.groups, vec![("id".to_string(), "42".to_string())]);
        assert_eq!(m.before, "ét\u{fffd}\u{fffd}: ");
        assert_eq!(e.next_line().as_deref(), Some(""));
        assert_eq!(e.next_line(), None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut e = Expect::with_limits(4096, 512);
        let p = pats(&["never"]);
        let mut cursor = Cursor::default();
        for i in 0..10_000 {
            e.feed(format!("line {i} of a chatty console\n").as_bytes());
            assert!(e.search(&p, &mut cursor).is_none());
            assert!(e.buffer().len() <= 4096);
        }
        assert!(e.dropped() > 0);
        // a huge line without newline is searched only at its end
        e.feed(&vec![b'x'; 100_000]);
        e.feed(b"never");
        assert!(e.search(&p, &mut cursor).is_some());
    }

    #[test]
    fn lookaround_is_refused_at_build_time() {
        assert!(Pattern::new("(?<=a)b").is_err());
        assert!(Pattern::new(r"(a)\1").is_err());
        assert_eq!(Pattern::literal("a.b (c)").as_str(), r"a\.b \(c\)");
    }
}
