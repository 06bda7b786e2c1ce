//! Decompression and archive extraction that cannot escape its directory
//! (docs/pipeline.md §14.26).
//!
//! [`extract_tar`] refuses, before writing anything for that entry:
//! absolute paths, `..` components, symbolic or hard links whose target
//! would resolve outside the destination, writing through a symbolic link,
//! and device or FIFO entries. Compression (gzip, bzip2, xz) is detected
//! from the data.
//!
//! Root file systems are different ([`extract_rootfs`], docs/pipeline.md
//! §9.4): their symbolic links point anywhere (`/etc/localtime ->
//! /usr/share/zoneinfo/UTC`, `lib -> usr/lib`) and must be kept as they
//! are, for the device. They are never followed out of the root: every
//! path written is resolved as if the root were `/` ([`resolve_in_root`]),
//! so a link to `/etc` leads to the root's own `etc`. Modes (set-id bits
//! included) and owners are kept; device nodes and FIFOs are skipped (the
//! device's devtmpfs makes them).
//!
//! ```
//! use lava_pipeline::unstable::archive::{extract_tar, ArchiveError};
//!
//! // a tar whose member is "../evil"
//! let mut builder = tar::Builder::new(Vec::new());
//! let mut header = tar::Header::new_gnu();
//! header.set_size(4);
//! header.set_mode(0o644);
//! header.set_entry_type(tar::EntryType::Regular);
//! // bypass the builder's own path checks to make a hostile archive
//! header.as_old_mut().name[..7].copy_from_slice(b"../evil");
//! header.set_cksum();
//! builder.append(&header, &b"evil"[..]).unwrap();
//! let data = builder.into_inner().unwrap();
//!
//! let dir = tempfile::tempdir().unwrap();
//! let err = extract_tar(&data[..], dir.path()).unwrap_err();
//! assert!(matches!(err, ArchiveError::Unsafe { .. }), "{err}");
//! assert!(!dir.path().parent().unwrap().join("evil").exists());
//! ```

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`gz`).
    Gzip,
    /// bzip2 (`bz2`).
    Bzip2,
    /// xz (`xz`).
    Xz,
}

impl Compression {
    /// From a job's `compression:` value (`gz`, `bz2`, `xz`).
    pub fn from_name(name: &str) -> Option<Compression> {
        match name {
            "gz" => Some(Compression::Gzip),
            "bz2" => Some(Compression::Bzip2),
            "xz" => Some(Compression::Xz),
            _ => None,
        }
    }

    /// The usual file suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Gzip => ".gz",
            Compression::Bzip2 => ".bz2",
            Compression::Xz => ".xz",
        }
    }

    /// Detect from the first bytes.
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else {
            None
        }
    }
}

/// A reader decompressing `reader`.
pub fn decoder<'a, R: Read + 'a>(compression: Compression, reader: R) -> Box<dyn Read + 'a> {
    match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(reader)),
    }
}

/// Why an archive was not extracted.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A member would escape the destination or is not allowed.
    #[error("refused archive member '{path}': {reason}")]
    Unsafe {
        /// The member's path as written in the archive.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Lexically normalise a relative path; `None` when it climbs above its
/// start or is absolute.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn has_symlink_below(dest: &Path, relative: &Path) -> bool {
    let mut current = dest.to_path_buf();
    let parts: Vec<_> = relative.components().collect();
    for (i, part) in parts.iter().enumerate() {
        current.push(part);
        if i + 1 == parts.len() {
            break;
        }
        if std::fs::symlink_metadata(&current)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false)
        {
            return true;
        }
    }
    false
}

/// Extract a (possibly compressed) tar archive into `dest`, which must
/// exist. Returns the number of members written.
pub fn extract_tar<R: Read>(reader: R, dest: &Path) -> Result<usize, ArchiveError> {
    extract(reader, dest, true)
}

/// A tar reader over `reader`, decompressed as its first bytes say.
fn open_archive<'a, R: Read + 'a>(reader: R) -> io::Result<tar::Archive<Box<dyn Read + 'a>>> {
    let mut buffered = BufReader::new(reader);
    let head = buffered.fill_buf()?.to_vec();
    let reader: Box<dyn Read + 'a> = match Compression::sniff(&head) {
        Some(c) => decoder(c, buffered),
        None => Box::new(buffered),
    };
    Ok(tar::Archive::new(reader))
}

/// A member's path, relative and without `..`, and as the archive wrote
/// it (for messages); absolute names and `..` are refused.
fn member_path<R: Read>(entry: &tar::Entry<'_, R>) -> Result<(PathBuf, String), ArchiveError> {
    let raw = entry.path()?.into_owned();
    let shown = raw.display().to_string();
    let refuse = |reason| {
        Err(ArchiveError::Unsafe {
            path: shown.clone(),
            reason,
        })
    };
    if raw.is_absolute() {
        return refuse("absolute path");
    }
    if raw.components().any(|c| matches!(c, Component::ParentDir)) {
        return refuse("'..' in the path");
    }
    match normalise(&raw) {
        Some(relative) => Ok((relative, shown)),
        None => refuse("path outside the destination"),
    }
}

/// What [`extract_rootfs`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Members written (directories, files, links).
    pub members: usize,
    /// Device nodes and FIFOs left out.
    pub skipped: usize,
}

/// `relative` resolved inside `root` as the device will see it, with
/// `root` as `/`: symbolic links met on the way are followed, an absolute
/// target starts again at `root` and `..` stops at it. The last component
/// is followed too when `follow_last`. The result is `root` joined with a
/// path whose existing components are real directories (and the last one
/// anything, unless followed). Loops give an error.
pub fn resolve_in_root(root: &Path, relative: &Path, follow_last: bool) -> io::Result<PathBuf> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    let mut pending: VecDeque<OsString> = VecDeque::new();
    let push_parts = |pending: &mut VecDeque<OsString>, path: &Path, front: bool| {
        let parts: Vec<OsString> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(p) => Some(p.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect();
        if front {
            for p in parts.into_iter().rev() {
                pending.push_front(p);
            }
        } else {
            pending.extend(parts);
        }
    };
    push_parts(&mut pending, relative, false);
    let mut resolved = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(&resolved).join(&part);
        let is_link = std::fs::symlink_metadata(&candidate)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if !is_link || (pending.is_empty() && !follow_last) {
            resolved.push(&part);
            continue;
        }
        hops += 1;
        if hops > 40 {
            return Err(io::Error::other(format!(
                "too many levels of symbolic links in {}",
                relative.display()
            )));
        }
        let target = std::fs::read_link(&candidate)?;
        if target.is_absolute() {
            resolved = PathBuf::new();
        }
        push_parts(&mut pending, &target, true);
    }
    Ok(root.join(resolved))
}

/// Extract a (possibly compressed) root file system archive into `dest`
/// (which must exist), or another archive into a root file system there
/// (kernel modules): see the module documentation.
pub fn extract_rootfs<R: Read>(reader: R, dest: &Path) -> Result<Extracted, ArchiveError> {
    let mut archive = open_archive(reader)?;
    let mut done = Extracted::default();
    // directory modes last, deepest first, so that read-only directories
    // can still be filled
    let mut directories: Vec<(PathBuf, u32)> = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let (relative, shown) = member_path(&entry)?;
        let unsafe_entry = |reason| ArchiveError::Unsafe {
            path: shown.clone(),
            reason,
        };
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let owner = (header.uid().ok(), header.gid().ok());
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            continue;
        }
        if matches!(
            kind,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo
        ) {
            done.skipped += 1;
            continue;
        }
        if relative.as_os_str().is_empty() {
            // the root itself: its mode is the device's "/"
            if kind == tar::EntryType::Directory {
                directories.push((dest.to_path_buf(), mode));
                chown(dest, owner)?;
            }
            continue;
        }
        let parent = resolve_in_root(
            dest,
            relative.parent().unwrap_or_else(|| Path::new("")),
            true,
        )?;
        std::fs::create_dir_all(&parent)?;
        let name = relative.file_name().unwrap_or_default();
        let target = parent.join(name);
        let existing = std::fs::symlink_metadata(&target).ok();
        match kind {
            tar::EntryType::Directory => {
                let target = resolve_in_root(dest, &relative, true)?;
                match std::fs::symlink_metadata(&target) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        std::fs::remove_file(&target)?;
                        std::fs::create_dir(&target)?;
                    }
                    Err(_) => std::fs::create_dir_all(&target)?,
                }
                chown(&target, owner)?;
                directories.push((target, mode));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                if existing.is_some_and(|m| !m.is_dir()) {
                    std::fs::remove_file(&target)?;
                }
                // create_new: never through a link someone put back
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)?;
                io::copy(&mut entry, &mut file)?;
                chown(&target, owner)?;
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            tar::EntryType::Symlink => {
                let Some(link) = entry.link_name()? else {
                    return Err(unsafe_entry("link without a target"));
                };
                if existing.is_some_and(|m| !m.is_dir()) {
                    std::fs::remove_file(&target)?;
                }
                std::os::unix::fs::symlink(link.as_ref(), &target)?;
                chown(&target, owner)?;
            }
            tar::EntryType::Link => {
                let Some(link) = entry.link_name()? else {
                    return Err(unsafe_entry("link without a target"));
                };
                let Some(linked) = normalise(&link) else {
                    return Err(unsafe_entry("link target outside the destination"));
                };
                let source = resolve_in_root(dest, &linked, false)?;
                if existing.is_some_and(|m| !m.is_dir()) {
                    std::fs::remove_file(&target)?;
                }
                std::fs::hard_link(&source, &target)?;
            }
            _ => return Err(unsafe_entry("unknown entry type")),
        }
        done.members += 1;
    }
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    for (dir, mode) in directories.into_iter().rev() {
        // through a descriptor of the directory itself: a symbolic link
        // put in its place meanwhile is not followed
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(&dir)?;
        handle.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(done)
}

/// Give `path` (not followed) the archive's owner; refused changes (not
/// running as root) are ignored.
fn chown(path: &Path, (uid, gid): (Option<u64>, Option<u64>)) -> io::Result<()> {
    let uid = uid.and_then(|u| u32::try_from(u).ok());
    let gid = gid.and_then(|g| u32::try_from(g).ok());
    match std::os::unix::fs::lchown(path, uid, gid) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        other => other,
    }
}

/// Copy the tree under `from` (directories, files and symbolic links, as
/// the test overlay is) into the root file system at `root`, every path
/// resolved in the root ([`resolve_in_root`]).
pub fn copy_into_root(from: &Path, root: &Path) -> io::Result<()> {
    copy_below(from, root, Path::new(""))
}

fn copy_below(from: &Path, root: &Path, relative: &Path) -> io::Result<()> {
    let dir = resolve_in_root(root, relative, true)?;
    std::fs::create_dir_all(&dir)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let below = relative.join(entry.file_name());
        if kind.is_dir() {
            copy_below(&entry.path(), root, &below)?;
            continue;
        }
        let target = resolve_in_root(root, &below, false)?;
        if std::fs::symlink_metadata(&target).is_ok_and(|m| !m.is_dir()) {
            std::fs::remove_file(&target)?;
        }
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            let mut source = std::fs::File::open(entry.path())?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)?;
            io::copy(&mut source, &mut file)?;
            file.set_permissions(source.metadata()?.permissions())?;
        }
    }
    Ok(())
}

/// [`extract_tar`] for archives that should hold plain files and
/// directories only (test definitions a job brings): links and sparse
/// members are refused, so nothing later written into the tree can follow
/// a link out of it.
pub fn extract_tar_plain<R: Read>(reader: R, dest: &Path) -> Result<usize, ArchiveError> {
    extract(reader, dest, false)
}

fn extract<R: Read>(reader: R, dest: &Path, links: bool) -> Result<usize, ArchiveError> {
    let mut archive = open_archive(reader)?;
    let mut count = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let (relative, shown) = member_path(&entry)?;
        let unsafe_entry = |reason| ArchiveError::Unsafe {
            path: shown.clone(),
            reason,
        };
        if relative.as_os_str().is_empty() {
            continue;
        }
        if has_symlink_below(dest, &relative) {
            return Err(unsafe_entry("path goes through a symbolic link"));
        }
        let target = dest.join(&relative);
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target)?;
            }
            tar::EntryType::GNUSparse if !links => {
                return Err(unsafe_entry("sparse member in an archive of plain files"))
            }
            tar::EntryType::Symlink | tar::EntryType::Link if !links => {
                return Err(unsafe_entry("link in an archive of plain files"))
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                if std::fs::symlink_metadata(&target).is_ok() {
                    std::fs::remove_file(&target)?;
                }
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                let mut file = std::fs::File::create(&target)?;
                io::copy(&mut entry, &mut file)?;
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let Some(link) = entry.link_name()? else {
                    return Err(unsafe_entry("link without a target"));
                };
                let link = link.into_owned();
                if link.is_absolute() {
                    return Err(unsafe_entry("link to an absolute path"));
                }
                let base = if kind == tar::EntryType::Symlink {
                    relative.parent().map(Path::to_path_buf).unwrap_or_default()
                } else {
                    PathBuf::new()
                };
                let Some(resolved) = normalise(&base.join(&link)) else {
                    return Err(unsafe_entry("link target outside the destination"));
                };
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                if kind == tar::EntryType::Symlink {
                    std::os::unix::fs::symlink(&link, &target)?;
                } else {
                    if has_symlink_below(dest, &resolved) {
                        return Err(unsafe_entry("hard link through a symbolic link"));
                    }
                    std::fs::hard_link(dest.join(&resolved), &target)?;
                }
            }
            tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => continue,
            _ => return Err(unsafe_entry("device, FIFO or unknown entry type")),
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_entry(
        builder: &mut tar::Builder<Vec<u8>>,
        name: &[u8],
        kind: tar::EntryType,
        link: &[u8],
        data: &[u8],
    ) {
        let mode = if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        };
        raw_entry_with_mode(builder, name, kind, link, data, mode);
    }

    fn raw_entry_with_mode(
        builder: &mut tar::Builder<Vec<u8>>,
        name: &[u8],
        kind: tar::EntryType,
        link: &[u8],
        data: &[u8],
        mode: u32,
    ) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_entry_type(kind);
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }

    /// name, kind, link target, data
    type Entry<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);

    fn archive(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, link, data) in entries {
            raw_entry(&mut b, name, *kind, link, data);
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn path_escapes_are_refused() {
        use tar::EntryType::*;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("dot-dot", archive(&[(b"a/../../x", Regular, b"", b"x")])),
            ("absolute", archive(&[(b"/tmp/x", Regular, b"", b"x")])),
            (
                "absolute symlink",
                archive(&[(b"l", Symlink, b"/etc", b"")]),
            ),
            (
                "escaping symlink",
                archive(&[(b"d/l", Symlink, b"../../x", b"")]),
            ),
            (
                "through symlink",
                archive(&[(b"l", Symlink, b".", b""), (b"l/x", Regular, b"", b"x")]),
            ),
            ("escaping hard link", archive(&[(b"h", Link, b"../x", b"")])),
            ("fifo", archive(&[(b"f", Fifo, b"", b"")])),
        ];
        for (what, data) in cases {
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("dest");
            std::fs::create_dir(&dest).unwrap();
            let err = extract_tar(&data[..], &dest);
            assert!(
                matches!(err, Err(ArchiveError::Unsafe { .. })),
                "{what}: {err:?}"
            );
            assert!(!dir.path().join("x").exists(), "{what}");
        }
    }

    #[test]
    fn good_archives_extract_compressed_or_not() {
        use std::io::Write;
        use tar::EntryType::*;
        let data = archive(&[
            (b"top/", Directory, b"", b""),
            (b"top/file", Regular, b"", b"hello"),
            (b"top/link", Symlink, b"file", b""),
            (b"top/hard", Link, b"top/file", b""),
        ]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        for input in [data.clone(), gz] {
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(extract_tar(&input[..], dir.path()).unwrap(), 4);
            assert_eq!(
                std::fs::read_to_string(dir.path().join("top/link")).unwrap(),
                "hello"
            );
            assert_eq!(
                std::fs::read_to_string(dir.path().join("top/hard")).unwrap(),
                "hello"
            );
        }
    }

    /// A root file system keeps its links, whatever they point at, and
    /// nothing written into it afterwards (a later member, modules, the
    /// overlay) goes through them out of the root.
    #[test]
    fn root_file_systems_keep_links_and_stay_inside() {
        use tar::EntryType::*;
        let outside = tempfile::tempdir().unwrap();
        let out = outside.path().display().to_string();
        let rootfs = archive(&[
            (b"./", Directory, b"", b""),
            (b"usr/lib/", Directory, b"", b""),
            (b"lib", Symlink, b"usr/lib", b""),
            (b"etc/", Directory, b"", b""),
            (b"etc/localtime", Symlink, b"/usr/share/zoneinfo/UTC", b""),
            (b"evil", Symlink, out.as_bytes(), b""),
            (b"up", Symlink, b"../../../..", b""),
            (b"dev/", Directory, b"", b""),
            (b"dev/console", Char, b"", b""),
            (b"bin/", Directory, b"", b""),
            (b"bin/busybox", Regular, b"", b"elf"),
            (b"bin/sh", Link, b"bin/busybox", b""),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let done = extract_rootfs(&rootfs[..], &root).unwrap();
        assert_eq!(
            done,
            Extracted {
                members: 10,
                skipped: 1
            }
        );
        assert_eq!(
            std::fs::read_link(root.join("etc/localtime")).unwrap(),
            Path::new("/usr/share/zoneinfo/UTC")
        );
        assert!(!root.join("dev/console").exists());
        assert_eq!(std::fs::read(root.join("bin/sh")).unwrap(), b"elf");

        // modules of a merged-/usr root land in usr/lib; members through
        // the hostile links land inside the root
        let more = archive(&[
            (b"lib/modules/6.1/", Directory, b"", b""),
            (b"lib/modules/6.1/nfs.ko", Regular, b"", b"ko"),
            (b"evil/passwd", Regular, b"", b"x"),
            (b"up/etc/shadow", Regular, b"", b"x"),
        ]);
        extract_rootfs(&more[..], &root).unwrap();
        assert_eq!(
            std::fs::read(root.join("usr/lib/modules/6.1/nfs.ko")).unwrap(),
            b"ko"
        );
        assert_eq!(
            std::fs::read(root.join(out.trim_start_matches('/')).join("passwd")).unwrap(),
            b"x"
        );
        assert_eq!(std::fs::read(root.join("etc/shadow")).unwrap(), b"x");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);

        // the overlay too: a link named like its directory leads inside
        let overlay = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(overlay.path().join("lava-7/bin")).unwrap();
        std::fs::write(overlay.path().join("lava-7/bin/runner"), b"sh").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("lava-7")).unwrap();
        copy_into_root(overlay.path(), &root).unwrap();
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        assert_eq!(
            std::fs::read(root.join(out.trim_start_matches('/')).join("bin/runner")).unwrap(),
            b"sh"
        );

        // modes are kept, set-id bits included; a directory entry or a
        // hard link through an outward link changes nothing outside
        use std::os::unix::fs::PermissionsExt;
        let mut b = tar::Builder::new(Vec::new());
        raw_entry_with_mode(&mut b, b"bin/su", Regular, b"", b"su", 0o4755);
        raw_entry_with_mode(&mut b, b"evil/", Directory, b"", b"", 0o750);
        raw_entry(&mut b, b"evil-link", Link, b"evil", b"");
        extract_rootfs(&b.into_inner().unwrap()[..], &root).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&root.join("bin/su")), 0o4755);
        assert_ne!(mode(outside.path()), 0o750);
        assert_eq!(
            mode(&root.join(out.trim_start_matches('/'))),
            0o750,
            "the directory entry went to the root's own copy of the path"
        );
        assert!(std::fs::symlink_metadata(root.join("evil-link"))
            .unwrap()
            .file_type()
            .is_symlink());

        // still refused: names that climb out, link loops
        for (what, data) in [
            ("dot-dot", archive(&[(b"a/../../x", Regular, b"", b"x")])),
            ("absolute", archive(&[(b"/tmp/x", Regular, b"", b"x")])),
            (
                "loop",
                archive(&[
                    (b"l1", Symlink, b"l2", b""),
                    (b"l2", Symlink, b"l1", b""),
                    (b"l1/x", Regular, b"", b"x"),
                ]),
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            assert!(extract_rootfs(&data[..], dir.path()).is_err(), "{what}");
            assert!(!dir.path().parent().unwrap().join("x").exists(), "{what}");
        }
    }

    /// A link that is harmless as text but points out once an earlier link
    /// is followed (`x -> .`, then `y -> x/x/../..`): archives of plain
    /// files refuse every link (and sparse member).
    #[test]
    fn plain_archives_refuse_links() {
        use tar::EntryType::*;
        for (what, data) in [
            (
                "chained links",
                archive(&[
                    (b"x", Symlink, b".", b""),
                    (b"y", Symlink, b"x/x/../..", b""),
                ]),
            ),
            (
                "hard link",
                archive(&[(b"f", Regular, b"", b"x"), (b"h", Link, b"f", b"")]),
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let err = extract_tar_plain(&data[..], dir.path());
            assert!(
                matches!(err, Err(ArchiveError::Unsafe { .. })),
                "{what}: {err:?}"
            );
        }
        let files = archive(&[(b"d/", Directory, b"", b""), (b"d/f", Regular, b"", b"x")]);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(extract_tar_plain(&files[..], dir.path()).unwrap(), 2);
    }
}
