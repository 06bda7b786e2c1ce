//! Printing a job's log for people, as `lava-server manage jobs logs` and
//! `lava-lab` do: levels coloured on a terminal, device output plain.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use lava_scheduler::model::JobState;
use lava_scheduler::SqlStore;

/// Print a job's log (following it until the job ends with `follow`, or
/// until `stop` is set).
pub fn print_log(
    store: &SqlStore,
    id: i64,
    follow: bool,
    raw: bool,
    jobs_dir: &Path,
    stop: Option<&AtomicBool>,
) -> Result<(), String> {
    use std::io::IsTerminal;
    let job = store.job(id).map_err(|e| e.to_string())?;
    let path = lava_scheduler::master::output_dir(jobs_dir, &job).join("output.yaml");
    let colour = !raw && std::io::stdout().is_terminal();
    let mut offset = 0u64;
    let mut pending = String::new();
    let stdout = std::io::stdout();
    loop {
        // Read before checking the state: lines written before the job
        // ended are all printed.
        let finished = store.job(id).map_err(|e| e.to_string())?.state == JobState::Finished;
        if let Ok(mut file) = std::fs::File::open(&path) {
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let mut chunk = String::new();
            let read = file
                .read_to_string(&mut chunk)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            offset += read as u64;
            pending.push_str(&chunk);
            let mut out = stdout.lock();
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                let shown = if raw {
                    line
                } else {
                    human(line.trim_end().strip_prefix("- ").unwrap_or(&line), colour)
                };
                if out.write_all(shown.as_bytes()).is_err() {
                    return Ok(());
                }
            }
            let _ = out.flush();
        } else if !follow {
            return Err(format!(
                "job {id} has no log yet ({} does not exist)",
                path.display()
            ));
        }
        if !follow || finished || stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// One log line for people: `HH:MM:SS level message`, device output plain.
pub fn human(line: &str, colour: bool) -> String {
    use lava_proto::log::{LogLevel, LogRecord};
    let Ok(record) = LogRecord::parse(line) else {
        return format!("{line}\n");
    };
    let time = record.dt.get(11..19).unwrap_or(&record.dt).to_string();
    let text = match &record.msg {
        lava_proto::yaml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if record.lvl == LogLevel::Target {
        return format!("{text}\n");
    }
    let code = match record.lvl {
        LogLevel::Error | LogLevel::Exception => "31",
        LogLevel::Warning => "33",
        LogLevel::Debug => "2",
        LogLevel::Input | LogLevel::Feedback => "36",
        LogLevel::Results => {
            if text.contains("\"result\": \"fail\"") {
                "31"
            } else {
                "32"
            }
        }
        _ => "1",
    };
    let level = record.lvl.as_str();
    if colour {
        format!("{time} \x1b[{code}m{level:>8}\x1b[0m {text}\n")
    } else {
        format!("{time} {level:>8} {text}\n")
    }
}
