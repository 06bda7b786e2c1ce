//! Reading a job's log by line numbers without loading it: the master's log
//! sink writes every line to `output.yaml` and its byte offset to
//! `output.idx` (a little-endian u64). A range of lines is therefore two
//! index reads and one byte range.
//!
//! Only complete lines are given: a line being written (its bytes not yet
//! ended by a newline) is left for the next call.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The most bytes of log one XML-RPC `scheduler.jobs.logs` answer carries;
/// the client asks again from where the answer stopped.
pub const LOG_BYTES_PER_CALL: u64 = 8 * 1024 * 1024;

/// A range of complete lines of a job's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSlice {
    /// `output.yaml`.
    pub path: PathBuf,
    /// The first line given (0-based).
    pub first: u64,
    /// How many lines are given.
    pub lines: u64,
    /// Their bytes in `output.yaml`: `start..end`.
    pub start: u64,
    /// End of the byte range (exclusive).
    pub end: u64,
    /// Complete lines in the whole log.
    pub total: u64,
}

fn offset_at(index: &File, line: u64) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    index.read_exact_at(&mut buf, line * 8)?;
    Ok(u64::from_le_bytes(buf))
}

/// Locate lines `start..end` (`end` none: to the last complete line) of the
/// log in `dir`, at most `max_bytes` of them (at least one line). `None`
/// when the log does not exist.
pub fn slice(
    dir: &Path,
    start: u64,
    end: Option<u64>,
    max_bytes: u64,
) -> io::Result<Option<LogSlice>> {
    let path = dir.join("output.yaml");
    let (output, index) = match (File::open(&path), File::open(dir.join("output.idx"))) {
        (Ok(o), Ok(i)) => (o, i),
        (Err(e), _) | (_, Err(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    // The length of the text first, then the index. The master writes a
    // line, then its offset; a reader can see a line whose offset is not
    // written yet, or an offset whose line is not (wholly) written yet.
    let length = output.metadata()?.len();
    let indexed = index.metadata()?.len() / 8;
    // Where the line after `lines` lines starts, i.e. where line
    // `lines - 1` ends: the next offset when it is within the text read,
    // else the byte after the line's newline; `None` while the line is
    // incomplete.
    let end_of = |lines: u64| -> io::Result<Option<u64>> {
        if lines == 0 {
            return Ok(Some(0));
        }
        if lines < indexed {
            let next = offset_at(&index, lines)?;
            if next <= length {
                return Ok(Some(next));
            }
        }
        let start = offset_at(&index, lines - 1)?;
        let mut at = start;
        let mut buf = vec![0u8; 64 * 1024];
        while at < length {
            let want = buf.len().min((length - at) as usize);
            let got = output.read_at(&mut buf[..want], at)?;
            if got == 0 {
                break;
            }
            if let Some(n) = buf[..got].iter().position(|&b| b == b'\n') {
                return Ok(Some(at + n as u64 + 1));
            }
            at += got as u64;
        }
        Ok(None)
    };
    // Lines indexed beyond the text read are not counted, nor a last line
    // without its newline yet.
    let mut total = indexed;
    while total > 0 && offset_at(&index, total - 1)? >= length {
        total -= 1;
    }
    if total > 0 && end_of(total)?.is_none() {
        total -= 1;
    }
    let first = start.min(total);
    let mut stop = end.unwrap_or(total).clamp(first, total);
    let byte_at = |lines: u64| -> io::Result<u64> { Ok(end_of(lines)?.unwrap_or(length)) };
    let start_byte = byte_at(first)?;
    if stop > first && byte_at(stop)? - start_byte > max_bytes {
        // the largest stop within the budget, at least one line
        let (mut low, mut high) = (first + 1, stop);
        while low < high {
            let mid = (low + high).div_ceil(2);
            if byte_at(mid)? - start_byte <= max_bytes {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        stop = low;
    }
    let end_byte = byte_at(stop)?;
    Ok(Some(LogSlice {
        path,
        first,
        lines: stop - first,
        start: start_byte,
        end: end_byte.max(start_byte),
        total,
    }))
}

/// Read the bytes of a slice.
pub fn read(slice: &LogSlice) -> io::Result<Vec<u8>> {
    let file = File::open(&slice.path)?;
    let mut buf = vec![0u8; (slice.end - slice.start) as usize];
    file.read_exact_at(&mut buf, slice.start)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_log(dir: &Path, lines: &[&str], partial: &str) {
        let mut text = String::new();
        let mut index = Vec::new();
        for line in lines {
            index.extend_from_slice(&(text.len() as u64).to_le_bytes());
            text.push_str(&format!("- {line}\n"));
        }
        if !partial.is_empty() {
            index.extend_from_slice(&(text.len() as u64).to_le_bytes());
            text.push_str(partial);
        }
        std::fs::write(dir.join("output.yaml"), text).unwrap();
        std::fs::write(dir.join("output.idx"), index).unwrap();
    }

    fn text(s: &LogSlice) -> String {
        String::from_utf8(read(s).unwrap()).unwrap()
    }

    #[test]
    fn ranges_of_complete_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(slice(dir.path(), 0, None, 100).unwrap(), None);
        write_log(dir.path(), &["{a: 1}", "{b: 2}", "{c: 3}"], "- {d: ");
        let all = slice(dir.path(), 0, None, 1000).unwrap().unwrap();
        assert_eq!((all.first, all.lines, all.total), (0, 3, 3));
        assert_eq!(text(&all), "- {a: 1}\n- {b: 2}\n- {c: 3}\n");
        let middle = slice(dir.path(), 1, Some(2), 1000).unwrap().unwrap();
        assert_eq!(text(&middle), "- {b: 2}\n");
        let past = slice(dir.path(), 7, None, 1000).unwrap().unwrap();
        assert_eq!((past.lines, past.total), (0, 3));
        assert_eq!(text(&past), "");
        // the budget cuts at a line boundary, but gives at least one line
        let budget = slice(dir.path(), 0, None, 20).unwrap().unwrap();
        assert_eq!(text(&budget), "- {a: 1}\n- {b: 2}\n");
        let tiny = slice(dir.path(), 0, None, 1).unwrap().unwrap();
        assert_eq!(text(&tiny), "- {a: 1}\n");
        // offsets indexed after the text was measured are not lines yet
        let length = std::fs::metadata(dir.path().join("output.yaml"))
            .unwrap()
            .len();
        let mut index = std::fs::read(dir.path().join("output.idx")).unwrap();
        for offset in [length + 4, length + 14] {
            index.extend_from_slice(&offset.to_le_bytes());
        }
        std::fs::write(dir.path().join("output.idx"), &index).unwrap();
        let all = slice(dir.path(), 0, None, 1000).unwrap().unwrap();
        assert_eq!((all.lines, all.total), (3, 3));
        assert_eq!(text(&all), "- {a: 1}\n- {b: 2}\n- {c: 3}\n");
        // the partial line is given once it is complete
        write_log(dir.path(), &["{a: 1}", "{b: 2}", "{c: 3}", "{d: 4}"], "");
        let all = slice(dir.path(), 3, None, 1000).unwrap().unwrap();
        assert_eq!(text(&all), "- {d: 4}\n");
        // a line written whose offset is not yet: not counted, and not in
        // the bytes of the lines before it
        let mut text_bytes = std::fs::read(dir.path().join("output.yaml")).unwrap();
        text_bytes.extend_from_slice(b"- {e: 5}\n");
        std::fs::write(dir.path().join("output.yaml"), &text_bytes).unwrap();
        let all = slice(dir.path(), 2, None, 1000).unwrap().unwrap();
        assert_eq!((all.lines, all.total), (2, 4));
        assert_eq!(text(&all), "- {c: 3}\n- {d: 4}\n");
        let budget = slice(dir.path(), 0, None, 25).unwrap().unwrap();
        assert_eq!(text(&budget), "- {a: 1}\n- {b: 2}\n");
    }
}
