//! The ordered list of folders templates are read from, and the only file
//! access of the crate.
//!
//! Like Jinja2's `FileSystemLoader`, a template name is split on `/`, empty
//! and `.` components are ignored, and the first folder that has the file
//! wins. Unlike it, this loader refuses outright what could read outside
//! the folders: absolute names, `..` components, NUL bytes, and files
//! whose real path (after following symbolic links) is not inside the
//! folder they were found in. Symbolic links that stay inside the folder
//! are followed. Templates must be UTF-8 and at most [`MAX_TEMPLATE_BYTES`].

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The largest template file read (4 MiB; LAVA's largest is 12 KiB).
pub const MAX_TEMPLATE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a template could not be loaded (kept as the source of the engine's
/// error, then turned into a [`RenderError`](crate::RenderError)).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("template '{name}' not found in the search path")]
    NotFound { name: String },
    #[error("refusing template '{name}': {reason}")]
    Refused { name: String, reason: String },
    #[error("cannot read template {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
}

/// A template file that was read.
pub(crate) struct LoadedFile {
    pub path: PathBuf,
    pub text: String,
    /// Modification time and size when read, to notice later edits.
    pub stamp: Option<(SystemTime, u64)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SearchPath {
    dirs: Vec<PathBuf>,
}

impl SearchPath {
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        SearchPath { dirs }
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Reads template `name` from the first folder that has it;
    /// `Ok(None)` when none has.
    pub fn load(&self, name: &str) -> Result<Option<LoadedFile>, LoadError> {
        let components = check_name(name)?;
        for dir in &self.dirs {
            let mut candidate = dir.clone();
            candidate.extend(&components);
            let Ok(meta) = fs::metadata(&candidate) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let real = within(dir, &candidate).map_err(|reason| LoadError::Refused {
                name: name.to_string(),
                reason,
            })?;
            return read(&real).map(Some);
        }
        Ok(None)
    }
}

/// The components of a valid template name.
pub(crate) fn check_name(name: &str) -> Result<Vec<&str>, LoadError> {
    let refuse = |reason: &str| LoadError::Refused {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(refuse("the name is empty"));
    }
    if name.contains('\0') {
        return Err(refuse("the name contains a NUL byte"));
    }
    if name.starts_with('/') {
        return Err(refuse("absolute names are not allowed"));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(refuse("'..' components are not allowed")),
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(refuse("the name has no file component"));
    }
    Ok(parts)
}

/// The real path of `file` if it lies inside the real path of `dir`.
fn within(dir: &Path, file: &Path) -> Result<PathBuf, String> {
    let real_dir = fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let real_file = fs::canonicalize(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if real_file.starts_with(&real_dir) {
        Ok(real_file)
    } else {
        Err(format!(
            "{} resolves to {}, outside {}",
            file.display(),
            real_file.display(),
            real_dir.display()
        ))
    }
}

fn read(path: &Path) -> Result<LoadedFile, LoadError> {
    let unreadable = |reason: String| LoadError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let meta = fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if meta.len() > MAX_TEMPLATE_BYTES {
        return Err(unreadable(format!(
            "{} bytes, more than the {MAX_TEMPLATE_BYTES}-byte limit",
            meta.len()
        )));
    }
    let bytes = fs::read(path).map_err(|e: io::Error| unreadable(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        unreadable(format!(
            "not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(LoadedFile {
        path: path.to_path_buf(),
        text,
        stamp: stamp(path),
    })
}

/// Modification time and size of a file, if it can be read.
pub(crate) fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_jinja2_but_stricter() {
        assert_eq!(check_name("a.jinja2").unwrap(), ["a.jinja2"]);
        assert_eq!(check_name("./x//a.jinja2").unwrap(), ["x", "a.jinja2"]);
        for bad in ["", "/etc/passwd", "../a", "x/../../a", "a\0b", "./"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
