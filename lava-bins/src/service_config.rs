//! The daemons' configuration files, in the format LAVA's packages install
//! them: `/etc/lava-dispatcher/lava-slave`, `/etc/lava-server/lava-master`
//! (and `/etc/default/...`), read by systemd as `EnvironmentFile=` and
//! turned into a command line by the unit's `ExecStart=`. Our daemons read
//! the files themselves (`--config-file PATH`, repeatable) and build the
//! same argument list LAVA's units build, so a file copied from a LAVA
//! 2020.01 machine works unchanged. The variables, defaults and syntax are
//! described in `docs/operations.md`.
//!
//! Syntax (systemd's environment files): one `KEY=value` a line; blank
//! lines and lines starting with `#` or `;` are ignored; a value may be
//! `"double-quoted"` (backslash escapes `\"`, `\\`, `` \` ``, `\$`; a
//! backslash at the end of a line joins the next) or `'single-quoted'`
//! (literal); an unquoted value loses its trailing blanks, and a backslash
//! escapes the next character or, at the end of a line, joins the next
//! line. Unlike systemd, which skips what it cannot read, a line that is
//! not an assignment, an invalid name or an unterminated quote is an error
//! naming the file and line.
//!
//! Building the command line follows `ExecStart=`: `$VAR` is replaced by
//! the value split at blanks (an unset or empty variable adds nothing), so
//! `MASTER_CERT="--master-cert /path"` adds two arguments.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A configuration file that cannot be read or is malformed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceConfigError {
    /// The file exists but cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line of the file is malformed.
    #[error("{}:{line}: {reason}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line (from 1) where the bad assignment starts.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An option of the command line lacks its value.
    #[error("{0}")]
    Usage(String),
}

/// Which daemon a configuration is for: each has its own variables, the
/// argument template of its unit and its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// `lava-slave` (`/etc/lava-dispatcher/lava-slave`).
    Slave,
    /// `lava-master` (`/etc/lava-server/lava-master`).
    Master,
    /// `lava-server serve`, the HTTP service (`/etc/lava-server/lava-server-http`).
    Http,
}

impl Service {
    /// The unit's `ExecStart=` arguments after the program (and, for the
    /// HTTP service, after `serve`). LAVA's variables first, in LAVA's
    /// order, then ours.
    pub fn template(self) -> &'static str {
        match self {
            Service::Slave => {
                "--level $LOGLEVEL --master $MASTER_URL --socket-addr $LOGGER_URL $IPV6 \
                 $SOCKS_PROXY $ENCRYPT $MASTER_CERT $SLAVE_CERT $HOSTNAME \
                 $LOG_FILE $HTTP_BIND $OPTIONS"
            }
            Service::Master => {
                "--level $LOGLEVEL $MASTER_SOCKET $LOG_SOCKET $IPV6 $ENCRYPT $MASTER_CERT \
                 $SLAVES_CERTS $EVENT_SOCKET $DATABASE_URL $LOG_FILE $OPTIONS"
            }
            Service::Http => "--level $LOGLEVEL $BIND $DATABASE_URL $LOG_FILE $OPTIONS",
        }
    }

    /// Values used when no file sets the variable (the `Environment=` of
    /// LAVA's units, and the daemons' LAVA log files).
    pub fn defaults(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Service::Slave => &[
                ("MASTER_URL", "tcp://localhost:5556"),
                ("LOGGER_URL", "tcp://localhost:5555"),
                ("LOGLEVEL", "DEBUG"),
                (
                    "LOG_FILE",
                    "--log-file /var/log/lava-dispatcher/lava-slave.log",
                ),
            ],
            Service::Master => &[
                ("LOGLEVEL", "DEBUG"),
                (
                    "LOG_FILE",
                    "--log-file /var/log/lava-server/lava-master.log",
                ),
            ],
            Service::Http => &[
                ("LOGLEVEL", "INFO"),
                (
                    "LOG_FILE",
                    "--log-file /var/log/lava-server/lava-server-http.log",
                ),
            ],
        }
    }

    /// Variables LAVA's files may hold that this daemon knows and does not
    /// use, with the reason (logged at INFO instead of a warning).
    fn known_unused(self, key: &str) -> Option<&'static str> {
        match (self, key) {
            (Service::Master, "EVENT_URL") => Some(
                "LAVA's master subscribed to lava-publisher there; this master publishes \
                 its events itself (EVENT_SOCKET)",
            ),
            _ => None,
        }
    }

    /// The variables the template uses.
    pub fn variables(self) -> impl Iterator<Item = &'static str> {
        self.template()
            .split_whitespace()
            .filter_map(|word| word.strip_prefix('$'))
    }
}

/// A variable set in a file that the daemon does not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    /// The file.
    pub path: PathBuf,
    /// The variable.
    pub key: String,
    /// Why it is ignored, when it is a variable LAVA knows.
    pub reason: Option<&'static str>,
}

/// The argument list built from the configuration files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceArgs {
    /// The arguments (without the program name).
    pub args: Vec<String>,
    /// The files that were read (files that do not exist are skipped).
    pub read: Vec<PathBuf>,
    /// Variables set in the files that the daemon does not use.
    pub ignored: Vec<Ignored>,
}

/// Read a systemd environment file as LAVA's packages use them: the
/// assignments in file order (a variable set twice appears twice; the
/// later wins). A missing file is an [`ServiceConfigError::Io`] error of
/// kind `NotFound`.
pub fn parse_env_file(path: &Path) -> Result<Vec<(String, String)>, ServiceConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServiceConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_env(path, &text)
}

/// [`parse_env_file`] on text already read; `path` names it in errors.
pub fn parse_env(path: &Path, text: &str) -> Result<Vec<(String, String)>, ServiceConfigError> {
    Parser {
        path,
        chars: text.chars().peekable(),
        line: 1,
        out: Vec::new(),
    }
    .run()
}

struct Parser<'a> {
    path: &'a Path,
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    out: Vec<(String, String)>,
}

fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn valid_name(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

impl Parser<'_> {
    fn error(&self, line: usize, reason: impl Into<String>) -> ServiceConfigError {
        ServiceConfigError::Syntax {
            path: self.path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }

    fn next(&mut self) -> Option<char> {
        let c = self.chars.next();
        if c == Some('\n') {
            self.line += 1;
        }
        c
    }

    fn run(mut self) -> Result<Vec<(String, String)>, ServiceConfigError> {
        loop {
            // before a key: blanks and empty lines
            while matches!(self.chars.peek(), Some(&c) if is_blank(c) || is_newline(c)) {
                self.next();
            }
            let Some(&first) = self.chars.peek() else {
                return Ok(self.out);
            };
            if first == '#' || first == ';' {
                while matches!(self.chars.peek(), Some(&c) if !is_newline(c)) {
                    self.next();
                }
                continue;
            }
            self.assignment()?;
        }
    }

    /// One `KEY=value`, up to and including its line's end.
    fn assignment(&mut self) -> Result<(), ServiceConfigError> {
        let line = self.line;
        let mut key = String::new();
        loop {
            match self.chars.peek().copied() {
                None => break,
                Some(c) if is_newline(c) => break,
                Some('=') => break,
                Some(c) => {
                    key.push(c);
                    self.next();
                }
            }
        }
        if self.chars.peek() != Some(&'=') {
            let shown: String = key.trim_end().chars().take(40).collect();
            return Err(self.error(line, format!("not an assignment (KEY=value): '{shown}'")));
        }
        self.next();
        let key = key.trim_end().to_string();
        if !valid_name(&key) {
            return Err(self.error(
                line,
                format!(
                    "invalid variable name '{key}' (letters, digits and '_', not starting with a digit)"
                ),
            ));
        }
        let value = self.value(line)?;
        self.out.push((key, value));
        Ok(())
    }

    /// The value after `=`, as systemd reads it: quoted and unquoted parts
    /// are joined; blanks between parts are dropped.
    fn value(&mut self, line: usize) -> Result<String, ServiceConfigError> {
        let mut value = String::new();
        // where the trailing blanks of an unquoted part begin
        let mut trailing: Option<usize> = None;
        let mut unquoted = false;
        while let Some(c) = self.next() {
            if is_newline(c) {
                break;
            }
            match c {
                '\'' => {
                    if unquoted {
                        value.push(c);
                        trailing = None;
                        continue;
                    }
                    loop {
                        match self.next() {
                            None => return Err(self.error(line, "unterminated single quote")),
                            Some('\'') => break,
                            Some(c) => value.push(c),
                        }
                    }
                }
                '"' => {
                    if unquoted {
                        value.push(c);
                        trailing = None;
                        continue;
                    }
                    loop {
                        match self.next() {
                            None => return Err(self.error(line, "unterminated double quote")),
                            Some('"') => break,
                            Some('\\') => match self.next() {
                                None => return Err(self.error(line, "unterminated double quote")),
                                Some(c) if matches!(c, '"' | '\\' | '`' | '$') => value.push(c),
                                Some('\n') => {}
                                Some(c) => {
                                    value.push('\\');
                                    value.push(c);
                                }
                            },
                            Some(c) => value.push(c),
                        }
                    }
                }
                '\\' => {
                    unquoted = true;
                    trailing = None;
                    match self.next() {
                        None | Some('\n') => {}
                        Some(c) => value.push(c),
                    }
                }
                c if is_blank(c) && !unquoted => {}
                c => {
                    unquoted = true;
                    if is_blank(c) {
                        trailing.get_or_insert(value.len());
                    } else {
                        trailing = None;
                    }
                    value.push(c);
                }
            }
        }
        if let Some(at) = trailing {
            value.truncate(at);
        }
        Ok(value)
    }
}

/// Replace each `$VAR` word of `template` by the variable's value split at
/// blanks, as systemd does for `ExecStart=`; other words are kept.
pub fn expand(template: &str, vars: &HashMap<String, String>) -> Vec<String> {
    let mut args = Vec::new();
    for word in template.split_whitespace() {
        match word.strip_prefix('$') {
            Some(name) => {
                if let Some(value) = vars.get(name) {
                    args.extend(value.split_whitespace().map(str::to_string));
                }
            }
            None => args.push(word.to_string()),
        }
    }
    args
}

/// The argument list `service`'s unit would run with `files` as its
/// environment files, in order: a missing file is skipped (systemd's `-`
/// prefix), a later file's value wins over an earlier one's and over the
/// defaults.
pub fn service_args(
    service: Service,
    files: &[PathBuf],
) -> Result<ServiceArgs, ServiceConfigError> {
    let mut vars: HashMap<String, String> = service
        .defaults()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let used: Vec<&str> = service.variables().collect();
    let mut result = ServiceArgs::default();
    for path in files {
        let assignments = match parse_env_file(path) {
            Ok(assignments) => assignments,
            Err(ServiceConfigError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        result.read.push(path.clone());
        for (key, value) in assignments {
            if !used.contains(&key.as_str())
                && !result
                    .ignored
                    .iter()
                    .any(|i| i.key == key && &i.path == path)
            {
                result.ignored.push(Ignored {
                    path: path.clone(),
                    reason: service.known_unused(&key),
                    key: key.clone(),
                });
            }
            vars.insert(key, value);
        }
    }
    result.args = expand(service.template(), &vars);
    Ok(result)
}

/// `lava-slave`'s arguments from its configuration files (LAVA's unit:
/// `--level $LOGLEVEL --master $MASTER_URL --socket-addr $LOGGER_URL $IPV6
/// $SOCKS_PROXY $ENCRYPT $MASTER_CERT $SLAVE_CERT $HOSTNAME`, then ours).
pub fn slave_args(files: &[PathBuf]) -> Result<Vec<String>, ServiceConfigError> {
    Ok(service_args(Service::Slave, files)?.args)
}

/// `lava-master`'s arguments from its configuration files (LAVA's unit:
/// `--level $LOGLEVEL $MASTER_SOCKET $IPV6 $ENCRYPT $MASTER_CERT
/// $SLAVES_CERTS $EVENT_SOCKET`, with our `$LOG_SOCKET`, `$DATABASE_URL`,
/// `$LOG_FILE`, `$OPTIONS`).
pub fn master_args(files: &[PathBuf]) -> Result<Vec<String>, ServiceConfigError> {
    Ok(service_args(Service::Master, files)?.args)
}

/// `lava-server serve`'s arguments (after `serve`) from its configuration
/// files: `--level $LOGLEVEL $BIND $DATABASE_URL $LOG_FILE $OPTIONS`.
pub fn http_args(files: &[PathBuf]) -> Result<Vec<String>, ServiceConfigError> {
    Ok(service_args(Service::Http, files)?.args)
}

/// The options every daemon that reads configuration files takes (flatten
/// them into its clap arguments; [`command_line`] acts on them before clap
/// parses).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConfigOptions {
    /// Read settings from this file in LAVA's format (repeatable; a missing
    /// file is skipped, a later file wins, the command line wins over all).
    #[arg(long = "config-file", value_name = "PATH")]
    pub config_files: Vec<PathBuf>,
    /// Print the resulting command line and exit.
    #[arg(long)]
    pub print_args: bool,
}

/// A daemon's command line with its configuration files applied.
#[derive(Debug)]
pub struct CommandLine {
    /// What clap parses: the program (and subcommand), the arguments from
    /// the configuration files, then those of the command line, so an
    /// option given on the command line wins over the file's (the daemons
    /// let a single-value option override itself).
    pub args: Vec<OsString>,
    /// The same without `--config-file` and `--print-args`: the command
    /// line the daemon runs with.
    pub effective: Vec<OsString>,
    /// `--print-args` was given.
    pub print_args: bool,
    /// The configuration files' outcome (`None` without `--config-file`).
    pub config: Option<ServiceArgs>,
}

impl CommandLine {
    /// The effective command line, shell-quoted, for `--print-args`.
    pub fn display(&self) -> String {
        self.effective
            .iter()
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Log the variables the files set that the daemon does not use
    /// (call once logging is set up).
    pub fn log_ignored(&self, program: &str) {
        let Some(config) = &self.config else { return };
        for path in &config.read {
            log::info!("[INIT] Configuration read from {}", path.display());
        }
        for ignored in &config.ignored {
            match ignored.reason {
                Some(reason) => log::info!(
                    "[INIT] {}: {} ignored: {reason}",
                    ignored.path.display(),
                    ignored.key
                ),
                None => log::warn!(
                    "[INIT] {}: {} is not a {program} setting (ignored)",
                    ignored.path.display(),
                    ignored.key
                ),
            }
        }
    }
}

/// Find `--config-file PATH` (repeatable, also `--config-file=PATH`) and
/// `--print-args` in `args` (the whole command line, program first) and
/// put the configuration files' arguments at `insert_at` (1, or 2 after a
/// subcommand). Scanning stops at `--`.
pub fn command_line(
    service: Service,
    args: impl IntoIterator<Item = OsString>,
    insert_at: usize,
) -> Result<CommandLine, ServiceConfigError> {
    let mut all = Vec::new();
    let mut effective = Vec::new();
    let mut files = Vec::new();
    let mut print_args = false;
    let mut args = args.into_iter();
    let mut dashdash = false;
    while let Some(arg) = args.next() {
        all.push(arg.clone());
        if dashdash {
            effective.push(arg);
            continue;
        }
        match arg.to_str() {
            Some("--") => {
                dashdash = true;
                effective.push(arg);
            }
            Some("--print-args") => print_args = true,
            Some("--config-file") => match args.next() {
                Some(path) => {
                    all.push(path.clone());
                    files.push(PathBuf::from(path));
                }
                None => {
                    return Err(ServiceConfigError::Usage(
                        "--config-file needs a PATH".into(),
                    ))
                }
            },
            Some(s) if s.starts_with("--config-file=") => {
                files.push(PathBuf::from(&s["--config-file=".len()..]))
            }
            _ => effective.push(arg),
        }
    }
    let config = if files.is_empty() {
        None
    } else {
        let config = service_args(service, &files)?;
        for list in [&mut all, &mut effective] {
            let at = insert_at.min(list.len());
            list.splice(at..at, config.args.iter().map(OsString::from));
        }
        Some(config)
    };
    Ok(CommandLine {
        args: all,
        effective,
        print_args,
        config,
    })
}

/// `word` as a POSIX shell reads it back: bare when safe, else single-quoted.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<(String, String)>, ServiceConfigError> {
        parse_env(Path::new("/etc/x"), text)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn systemd_syntax() {
        let text = "# comment\n; other comment\n\n  A=plain value  \nB=\"--master-cert /x y\"\n\
                    C='single $X \\n'\nD=\"esc \\\" \\$ \\\\ \\n\"\nE=one\\\ntwo\n\
                    F=\"multi\nline\"\nG=\nH = spaced\nI=\"a\" 'b' c\nJ=\\  x\\ \n";
        assert_eq!(
            parse(text).unwrap(),
            pairs(&[
                ("A", "plain value"),
                ("B", "--master-cert /x y"),
                ("C", "single $X \\n"),
                ("D", "esc \" $ \\ \\n"),
                ("E", "onetwo"),
                ("F", "multi\nline"),
                ("G", ""),
                ("H", "spaced"),
                ("I", "abc"),
                ("J", "  x "),
            ])
        );
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line, why) in [
            ("A=1\nnot an assignment\n", 2, "not an assignment"),
            ("A=1\n\n1X=2\n", 3, "invalid variable name '1X'"),
            ("A=1\nexport B=2\n", 2, "invalid variable name 'export B'"),
            ("A=\"open\nB=2\n", 1, "unterminated double quote"),
            ("A='open\n", 1, "unterminated single quote"),
            ("=x\n", 1, "invalid variable name ''"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(&format!("/etc/x:{line}: ")), "{e}");
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn expansion_splits_and_drops_empty() {
        let vars: HashMap<String, String> = pairs(&[("A", "--a  x"), ("B", ""), ("C", "c")])
            .into_iter()
            .collect();
        assert_eq!(
            expand("--level $C $A $B $UNSET --x $C", &vars),
            ["--level", "c", "--a", "x", "--x", "c"]
        );
    }

    #[test]
    fn command_line_puts_files_first() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("lava-slave");
        std::fs::write(&f, "HOSTNAME=\"--hostname w1\"\nFOO=1\n").unwrap();
        let args: Vec<OsString> = [
            "lava-slave",
            "--config-file",
            f.to_str().unwrap(),
            "--config-file=/nonexistent",
            "--print-args",
            "--level",
            "INFO",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let cl = command_line(Service::Slave, args, 1).unwrap();
        assert!(cl.print_args);
        assert_eq!(
            cl.display(),
            "lava-slave --level DEBUG --master tcp://localhost:5556 --socket-addr \
             tcp://localhost:5555 --hostname w1 --log-file /var/log/lava-dispatcher/lava-slave.log \
             --level INFO"
        );
        let config = cl.config.unwrap();
        assert_eq!(config.read, std::slice::from_ref(&f));
        assert_eq!(config.ignored.len(), 1);
        assert_eq!(config.ignored[0].key, "FOO");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("tcp://*:5556"), "'tcp://*:5556'");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote("plain-1.0"), "plain-1.0");
        assert_eq!(shell_quote(""), "''");
    }
}
