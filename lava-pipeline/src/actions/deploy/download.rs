//! `download-retry` and its downloaders (docs/pipeline.md §9.1):
//! `http-download` (HTTP and HTTPS) and `file-download`, with
//! MD5/SHA-256/SHA-512 over the bytes as downloaded, decompression on the fly
//! (gz, bz2, xz) and safe unpacking of `archive: tar`.
//!
//! The file is written as `<deploy dir>/<label>/<name>`, `name` being the
//! URL's last component without the compression's suffix (only when the
//! suffix is that compression's: `initramfs.cpio.gz.u-boot` stays whole).
//! Published: `download-action/<label>/file` (absolute path),
//! `download-action/file/<label>`, and the three digests.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use lava_proto::yaml::{Mapping, Value};
use md5::Digest as _;

use crate::action::{About, Action, CleanupContext, Populate, RunContext, Validate};
use crate::archive::{self, Compression};
use crate::error::{Error, ErrorKind};
use crate::job::scalar;

/// What to download for one label.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadSpec {
    /// The label (`kernel`, `rootfs`...).
    pub label: String,
    /// The URL (after `http_url_format_string`).
    pub url: String,
    /// Decompress on the fly.
    pub compression: Option<Compression>,
    /// `archive: tar`.
    pub archive: bool,
    /// Expected digests: `md5sum`, `sha256sum`, `sha512sum`.
    pub checksums: Vec<(String, String)>,
    /// QEMU argument template.
    pub image_arg: Option<String>,
    /// Where the parent deploy publishes its directory
    /// (`<action>/dir/path`).
    pub dir_key: String,
}

impl DownloadSpec {
    /// Read the entry of `label` (`{url, compression, archive, md5sum,
    /// sha256sum, sha512sum, image_arg}`).
    pub fn from_entry(
        label: &str,
        entry: &Value,
        dispatcher: &Mapping,
        dir_key: &str,
    ) -> Result<Self, Error> {
        let url = entry.get("url").and_then(Value::as_str).ok_or_else(|| {
            Error::job(format!(
                "Invalid deploy action: 'url' is missing for '{label}'"
            ))
        })?;
        let compression = match entry.get("compression").and_then(Value::as_str) {
            None => None,
            Some(name) => Some(Compression::from_name(name).ok_or_else(|| {
                Error::job(format!(
                    "Unknown 'compression' format '{name}' for '{label}'"
                ))
            })?),
        };
        let archive = match entry.get("archive").and_then(Value::as_str) {
            None => false,
            Some("tar") => true,
            Some(other) => {
                return Err(Error::job(format!(
                    "Unknown 'archive' format '{other}' for '{label}'"
                )))
            }
        };
        let mut url = url.to_string();
        if url.starts_with("http://") || url.starts_with("https://") {
            if let Some(format) = dispatcher
                .get("http_url_format_string")
                .and_then(Value::as_str)
            {
                if !format.contains("%s") {
                    return Err(Error::configuration("http_url_format_string has no '%s'"));
                }
                url = format.replacen("%s", &url_encode(&url), 1);
            }
        }
        let checksums = ["md5sum", "sha256sum", "sha512sum"]
            .iter()
            .filter_map(|k| {
                entry
                    .get(k)
                    .map(|v| (k.to_string(), scalar(v).to_ascii_lowercase()))
            })
            .collect();
        Ok(DownloadSpec {
            label: label.to_string(),
            url,
            compression,
            archive,
            checksums,
            image_arg: entry
                .get("image_arg")
                .and_then(Value::as_str)
                .map(str::to_string),
            dir_key: dir_key.to_string(),
        })
    }

    /// The file name on disk.
    pub fn file_name(&self) -> Result<String, Error> {
        let path = self.url.split(['?', '#']).next().unwrap_or_default();
        let name = path.rsplit('/').next().unwrap_or_default();
        if name.is_empty() {
            return Err(Error::job(format!(
                "Cannot download a directory: '{}'",
                self.url
            )));
        }
        let name = match self.compression {
            Some(c) => name.strip_suffix(c.suffix()).unwrap_or(name),
            None => name,
        };
        Ok(name.to_string())
    }
}

fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `download-retry`: up to 3 attempts of one downloader.
#[derive(Debug)]
pub struct DownloadRetry {
    spec: DownloadSpec,
}

impl DownloadRetry {
    /// A download of `spec`.
    pub fn new(spec: DownloadSpec) -> Self {
        DownloadRetry { spec }
    }
}

const ABOUT_DOWNLOAD_RETRY: About =
    About::new("download-retry", "download with retry", "download-retry");

impl Action for DownloadRetry {
    fn about(&self) -> About {
        ABOUT_DOWNLOAD_RETRY
    }
    fn retries(&self) -> Option<u32> {
        Some(3)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        let scheme = self.spec.url.split(':').next().unwrap_or_default();
        match scheme {
            "http" | "https" => p.add(Download::new(self.spec.clone(), Source::Http)),
            "file" => p.add(Download::new(self.spec.clone(), Source::File)),
            other => {
                return Err(Error::job(format!(
                    "Unsupported url protocol scheme: {other}"
                )))
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Http,
    File,
}

/// `http-download` / `file-download`.
#[derive(Debug)]
pub struct Download {
    spec: DownloadSpec,
    source: Source,
    size: Option<u64>,
    written: Option<PathBuf>,
}

impl Download {
    fn new(spec: DownloadSpec, source: Source) -> Self {
        Download {
            spec,
            source,
            size: None,
            written: None,
        }
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(
            self.spec
                .url
                .strip_prefix("file://")
                .unwrap_or(&self.spec.url),
        )
    }
}

/// HTTP(S) fetches, with ureq (feature `http`).
#[cfg(feature = "http")]
mod http {
    use std::io::Read;

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(std::time::Duration::from_secs(30)))
            .build()
            .into()
    }

    fn length(headers: &ureq::http::HeaderMap) -> Option<u64> {
        headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    /// HEAD: the size, or why the resource is unavailable.
    pub fn head(url: &str) -> Result<Option<u64>, String> {
        match agent().head(url).header("Accept-Encoding", "").call() {
            Ok(r) if r.status() == 200 => Ok(length(r.headers())),
            Ok(r) => Err(format!(
                "Resource unavailable at '{url}' ({})",
                r.status().as_u16()
            )),
            Err(e) => Err(format!("Unable to get '{url}': {e}")),
        }
    }

    /// GET: the size if announced, and the body.
    pub fn get(url: &str) -> Result<(Option<u64>, Box<dyn Read>), String> {
        let response = agent()
            .get(url)
            .header("Accept-Encoding", "")
            .call()
            .map_err(|e| format!("Unable to get '{url}': {e}"))?;
        if response.status() != 200 {
            return Err(format!(
                "Resource unavailable at '{url}' ({})",
                response.status().as_u16()
            ));
        }
        let size = length(response.headers());
        Ok((size, Box::new(response.into_body().into_reader())))
    }
}

/// Without the `http` feature every HTTP(S) fetch is refused.
#[cfg(not(feature = "http"))]
mod http {
    fn refused(url: &str) -> String {
        format!("Unable to get '{url}': lava-pipeline is built without its http feature")
    }

    pub fn head(url: &str) -> Result<Option<u64>, String> {
        Err(refused(url))
    }

    pub fn get(url: &str) -> Result<(Option<u64>, Box<dyn std::io::Read>), String> {
        Err(refused(url))
    }
}

struct Digests {
    md5: md5::Md5,
    sha256: sha2::Sha256,
    sha512: sha2::Sha512,
    bytes: u64,
}

struct Hashing<'a, R> {
    inner: R,
    digests: &'a mut Digests,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digests.md5.update(&buf[..n]);
        sha2::Digest::update(&mut self.digests.sha256, &buf[..n]);
        sha2::Digest::update(&mut self.digests.sha512, &buf[..n]);
        self.digests.bytes += n as u64;
        Ok(n)
    }
}

/// Lower-case hexadecimal of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const ABOUT_HTTP_DOWNLOAD: About = About::new(
    "http-download",
    "use http to download the file",
    "http download",
);
const ABOUT_FILE_DOWNLOAD: About =
    About::new("file-download", "copy a local file", "local file copy");

impl Action for Download {
    fn about(&self) -> About {
        match self.source {
            Source::Http => ABOUT_HTTP_DOWNLOAD,
            Source::File => ABOUT_FILE_DOWNLOAD,
        }
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn url(&self) -> Option<String> {
        Some(self.spec.url.clone())
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        self.spec.file_name()?;
        if let Some(arg) = &self.spec.image_arg {
            v.set(
                "download-action",
                &self.spec.label,
                "image_arg",
                arg.as_str(),
            );
        }
        match self.source {
            Source::File => match std::fs::metadata(self.path()) {
                Ok(m) if m.is_file() => self.size = Some(m.len()),
                _ => v.error(format!(
                    "Image file '{}' does not exist or is not readable",
                    self.path().display()
                )),
            },
            Source::Http => match http::head(&self.spec.url) {
                Ok(size) => self.size = size,
                Err(e) => v.error(e),
            },
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let base = ctx
            .get_str(&self.spec.dir_key, "dir", "path")
            .map(PathBuf::from)
            .map(Ok)
            .unwrap_or_else(|| ctx.data.mkdtemp("download"))?;
        let dir = base.join(&self.spec.label);
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let name = self.spec.file_name()?;
        let target = dir.join(&name);
        self.written = Some(dir.clone());
        let started = Instant::now();
        let reader: Box<dyn Read> = match self.source {
            Source::File => Box::new(std::fs::File::open(self.path()).map_err(|e| {
                Error::job(format!("Unable to open '{}': {e}", self.path().display()))
            })?),
            Source::Http => {
                let (size, body) = http::get(&self.spec.url).map_err(Error::infrastructure)?;
                self.size = self.size.or(size);
                body
            }
        };
        ctx.logger.info(format!(
            "downloading {} to {}",
            self.spec.url,
            target.display()
        ));
        let mut digests = Digests {
            md5: md5::Md5::new(),
            sha256: <sha2::Sha256 as sha2::Digest>::new(),
            sha512: <sha2::Sha512 as sha2::Digest>::new(),
            bytes: 0,
        };
        {
            let hashing = Hashing {
                inner: reader,
                digests: &mut digests,
            };
            let mut source: Box<dyn Read> = match self.spec.compression {
                Some(c) => archive::decoder(c, hashing),
                None => Box::new(hashing),
            };
            let mut file = std::fs::File::create(&target)?;
            let mut buf = vec![0u8; 32 * 1024];
            let mut written = 0u64;
            let progress_size = if self.spec.compression.is_some() {
                None
            } else {
                self.size
            };
            loop {
                ctx.check()?;
                let n = source.read(&mut buf).map_err(|e| {
                    if self.spec.compression.is_some() {
                        ctx.logger
                            .error("Check that the 'compression' of the image is correct");
                    }
                    Error::infrastructure(format!("Unable to read '{}': {e}", self.spec.url))
                })?;
                if n == 0 {
                    break;
                }
                file.write_all(&buf[..n])?;
                report(ctx, progress_size, written + n as u64, written);
                written += n as u64;
            }
            file.flush()?;
        }
        let elapsed = started.elapsed().as_secs_f64().max(1e-6);
        let mb = digests.bytes as f64 / (1024.0 * 1024.0);
        ctx.logger.info(format!(
            "{mb:.1}MB downloaded in {elapsed:.2}s ({:.2}MB/s)",
            mb / elapsed
        ));
        if let Some(size) = self.size {
            if size != digests.bytes {
                return Err(Error::infrastructure(format!(
                    "Download finished ({} bytes) but was not expected size ({size} bytes), check your networking.",
                    digests.bytes
                )));
            }
        }
        let md5 = hex(&digests.md5.finalize());
        let sha256 = hex(&sha2::Digest::finalize(digests.sha256));
        let sha512 = hex(&sha2::Digest::finalize(digests.sha512));
        let mut published = target.clone();
        if self.spec.archive {
            let unpack = dir.join(&self.spec.label);
            std::fs::create_dir_all(&unpack)?;
            let file = std::fs::File::open(&target)?;
            archive::extract_tar(file, &unpack)
                .map_err(|e| Error::job(format!("Unable to unpack {}: {e}", target.display())))?;
            published = unpack;
        }
        let label = self.spec.label.clone();
        let path = published.display().to_string();
        ctx.set("download-action", &label, "file", path.as_str());
        ctx.set("download-action", "file", &label, path.as_str());
        ctx.set("download-action", &label, "md5", md5.as_str());
        ctx.set("download-action", &label, "sha256", sha256.as_str());
        ctx.set("download-action", &label, "sha512", sha512.as_str());
        ctx.results.insert("label", label.as_str());
        ctx.results.insert("size", digests.bytes as i64);
        ctx.results.insert("md5sum", md5.as_str());
        ctx.results.insert("sha256sum", sha256.as_str());
        ctx.results.insert("sha512sum", sha512.as_str());
        for (algo, expected) in &self.spec.checksums {
            let actual = match algo.as_str() {
                "md5sum" => &md5,
                "sha256sum" => &sha256,
                _ => &sha512,
            };
            let mut detail = Mapping::new();
            if actual != expected {
                detail.insert(algo.as_str(), expected.as_str());
                detail.insert("download", actual.as_str());
                ctx.results.insert("fail", Value::Mapping(detail));
                return Err(Error::job(format!(
                    "{algo} for '{}' does not match.",
                    self.spec.url
                )));
            }
            detail.insert(algo.as_str(), actual.as_str());
            ctx.results.insert("success", Value::Mapping(detail));
        }
        Ok(())
    }
    fn cleanup(&mut self, ctx: &mut CleanupContext<'_>) {
        if let Some(dir) = self.written.take() {
            let _ = std::fs::remove_dir_all(&dir);
            let ns = ctx.node.namespace().to_string();
            ctx.data
                .remove(&ns, "download-action", &self.spec.label, "file");
            ctx.data
                .remove(&ns, "download-action", "file", &self.spec.label);
        }
    }
}

/// The whole of a small file at `url` (`http://`, `https://`, `file://`),
/// at most `limit` bytes: what test definitions fetched `from: url` are.
/// `check` runs before every read (the action's deadline and the job's
/// cancel). A missing file is a `Job` error naming the URL; a server that
/// does not answer or breaks off, an `Infrastructure` one.
pub fn fetch_small(
    url: &str,
    limit: u64,
    check: &dyn Fn() -> Result<(), Error>,
) -> Result<Vec<u8>, Error> {
    let mut reader: Box<dyn Read> = if let Some(path) = url.strip_prefix("file://") {
        Box::new(
            std::fs::File::open(path)
                .map_err(|e| Error::job(format!("Unable to open '{url}': {e}")))?,
        )
    } else if url.starts_with("http://") || url.starts_with("https://") {
        http::get(url).map_err(Error::infrastructure)?.1
    } else {
        return Err(Error::job(format!(
            "Unsupported URL '{url}': use http://, https:// or file://"
        )));
    };
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        check()?;
        let n = reader
            .read(&mut buf)
            .map_err(|e| Error::infrastructure(format!("Unable to read '{url}': {e}")))?;
        if n == 0 {
            return Ok(bytes);
        }
        if (bytes.len() + n) as u64 > limit {
            return Err(Error::job(format!("'{url}' is larger than {limit} bytes")));
        }
        bytes.extend_from_slice(&buf[..n]);
    }
}

/// Check `bytes` against `(algorithm, expected hex)` pairs (`md5sum`,
/// `sha256sum`, `sha512sum`): the first mismatch, as a `Job` error naming
/// `what`.
pub fn verify_checksums(
    bytes: &[u8],
    checksums: &[(String, String)],
    what: &str,
) -> Result<(), Error> {
    for (algo, expected) in checksums {
        let actual = match algo.as_str() {
            "md5sum" => hex(&md5::Md5::digest(bytes)),
            "sha256sum" => hex(&<sha2::Sha256 as sha2::Digest>::digest(bytes)),
            "sha512sum" => hex(&<sha2::Sha512 as sha2::Digest>::digest(bytes)),
            other => return Err(Error::job(format!("Unknown checksum '{other}' for {what}"))),
        };
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(Error::job(format!(
                "{algo} for {what} does not match: expected {expected}, got {actual}"
            )));
        }
    }
    Ok(())
}

/// Log progress every 5 % of a known size, else every 25 MiB.
fn report(ctx: &RunContext<'_>, size: Option<u64>, total: u64, previous: u64) {
    let step = match size {
        Some(s) if s > 0 => (s / 20).max(1),
        _ => 25 * 1024 * 1024,
    };
    if total / step > previous / step {
        match size {
            Some(s) if s > 0 => ctx.logger.debug(format!(
                "progress {:3}% ({}MB)",
                (total * 100 / s).min(100),
                total >> 20
            )),
            _ => ctx.logger.debug(format!("progress {}MB", total >> 20)),
        }
    }
}

/// Where a deploy action keeps its downloads: a fresh directory published
/// as `<action>/dir/path`.
pub fn publish_dir(ctx: &mut RunContext<'_>, action: &str) -> Result<PathBuf, Error> {
    let dir = ctx.data.mkdtemp(action)?;
    ctx.set(action, "dir", "path", dir.display().to_string());
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lava_proto::yaml;

    #[test]
    fn file_names_keep_foreign_suffixes() {
        let entry =
            yaml::load("{url: 'http://x/a/initramfs.cpio.gz.u-boot', compression: gz}").unwrap();
        let spec = DownloadSpec::from_entry("ramdisk", &entry, &Mapping::new(), "d").unwrap();
        assert_eq!(spec.file_name().unwrap(), "initramfs.cpio.gz.u-boot");
        let entry = yaml::load("{url: 'file:///a/rootfs.ext4.xz', compression: xz}").unwrap();
        let spec = DownloadSpec::from_entry("rootfs", &entry, &Mapping::new(), "d").unwrap();
        assert_eq!(spec.file_name().unwrap(), "rootfs.ext4");
        let entry = yaml::load("{url: 'http://x/dir/'}").unwrap();
        let spec = DownloadSpec::from_entry("k", &entry, &Mapping::new(), "d").unwrap();
        assert!(spec.file_name().is_err());
        let entry = yaml::load("{url: 'http://x/a', compression: zip7}").unwrap();
        assert!(DownloadSpec::from_entry("k", &entry, &Mapping::new(), "d").is_err());
        let dispatcher =
            yaml::load("{http_url_format_string: 'http://cache/api/v1/fetch/?url=%s'}").unwrap();
        let entry = yaml::load("{url: 'http://x/a b'}").unwrap();
        let spec =
            DownloadSpec::from_entry("k", &entry, dispatcher.as_mapping().unwrap(), "d").unwrap();
        assert_eq!(
            spec.url,
            "http://cache/api/v1/fetch/?url=http%3A%2F%2Fx%2Fa%20b"
        );
    }
}
