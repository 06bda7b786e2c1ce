//! The worker's file server: what LAVA asks admins to set up with Apache,
//! built in. Devices fetch a job's deployment files (overlay, images) over
//! HTTP from `http://<worker>/tmp/<prefix><job id>/<file>`, the URL layout
//! LAVA's dispatcher uses, served from the worker's download directory
//! (`/var/lib/lava/dispatcher/tmp`).
//!
//! Only GET and HEAD; only the directories of jobs the worker is running or
//! still reporting (a job's directory disappears from the server when the
//! master acknowledges its END); no listing; no `..`, no absolute or
//! encoded tricks, and no symbolic link leading out of the job's directory.
//!
//! ```
//! use lava_pipeline::slave::FileServer;
//!
//! let root = tempfile::tempdir().unwrap();
//! std::fs::create_dir(root.path().join("12")).unwrap();
//! std::fs::write(root.path().join("12/overlay.tar.gz"), b"tarball").unwrap();
//! let server = FileServer::start("127.0.0.1:0", root.path()).unwrap();
//! server.allow("12");
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! server.forbid("12");
//! ```

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// At most this many requests are served at once; more get 503.
const MAX_CONNECTIONS: usize = 64;
/// Requests (line and headers) longer than this are refused.
const MAX_REQUEST: usize = 16 * 1024;

struct Shared {
    root: PathBuf,
    allowed: RwLock<HashSet<String>>,
    active: AtomicUsize,
    stop: AtomicBool,
}

/// A running file server; stops when dropped.
pub struct FileServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileServer {
    /// Listen on `bind` (e.g. `0.0.0.0:80`) and serve job directories
    /// under `root`.
    pub fn start(bind: &str, root: &Path) -> std::io::Result<FileServer> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            allowed: RwLock::new(HashSet::new()),
            active: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("http".into())
            .spawn(move || accept(listener, serving))?;
        log::info!(
            "[HTTP] serving job files from {} on http://{addr}/tmp/",
            root.display()
        );
        Ok(FileServer {
            shared,
            addr,
            thread: Some(thread),
        })
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serve the job directory `name` (`<prefix><job id>`).
    pub fn allow(&self, name: &str) {
        self.shared
            .allowed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string());
    }

    /// Stop serving the job directory `name`.
    pub fn forbid(&self, name: &str) {
        self.shared
            .allowed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        if shared.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            let _ = respond(&mut stream, 503, "Service Unavailable", None);
            continue;
        }
        let shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("http-request".into())
            .spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(300)));
                if let Err(e) = serve(&mut stream, &shared) {
                    log::debug!("[HTTP] request failed: {e}");
                }
                shared.active.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            log::warn!("[HTTP] cannot start a request thread");
        }
    }
}

fn respond(
    stream: &mut TcpStream,
    code: u16,
    reason: &str,
    body: Option<&str>,
) -> std::io::Result<()> {
    let body = body.unwrap_or(reason);
    write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Decode `%XX` escapes; `None` for a malformed or NUL escape.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if byte == 0 {
                return None;
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The file a request path names, if it may be served.
fn resolve(shared: &Shared, target: &str) -> Result<PathBuf, (u16, &'static str)> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = percent_decode(path).ok_or((400, "Bad Request"))?;
    let rest = path.strip_prefix("/tmp/").ok_or((404, "Not Found"))?;
    let (job, file) = rest.split_once('/').ok_or((404, "Not Found"))?;
    let relative = Path::new(file);
    let clean = !file.is_empty()
        && !job.is_empty()
        && !job.contains('\\')
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !clean || job == "." || job == ".." {
        return Err((403, "Forbidden"));
    }
    if !shared
        .allowed
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .contains(job)
    {
        return Err((404, "Not Found"));
    }
    let base = shared
        .root
        .join(job)
        .canonicalize()
        .map_err(|_| (404, "Not Found"))?;
    let full = base
        .join(relative)
        .canonicalize()
        .map_err(|_| (404, "Not Found"))?;
    if !full.starts_with(&base) {
        // A symbolic link leading out of the job's directory.
        return Err((403, "Forbidden"));
    }
    if !full.is_file() {
        return Err((404, "Not Found"));
    }
    Ok(full)
}

fn serve(stream: &mut TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?).take(MAX_REQUEST as u64);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Headers are read and ignored (up to the size limit).
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = request.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return respond(stream, 400, "Bad Request", None);
    };
    if method != "GET" && method != "HEAD" {
        return respond(stream, 405, "Method Not Allowed", None);
    }
    let path = match resolve(shared, target) {
        Ok(path) => path,
        Err((code, reason)) => {
            log::info!("[HTTP] {method} {target}: {code} {reason}");
            return respond(stream, code, reason, None);
        }
    };
    let mut file = std::fs::File::open(&path)?;
    let length = file.metadata()?.len();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )?;
    if method == "GET" {
        std::io::copy(&mut file, stream)?;
    }
    log::debug!("[HTTP] {method} {target}: 200 ({length} bytes)");
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(server: &FileServer, path: &str) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let text = String::from_utf8_lossy(&response);
        let code = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| response[i + 4..].to_vec())
            .unwrap();
        (code, body)
    }

    #[test]
    fn serves_only_the_files_of_allowed_jobs() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"do not serve").unwrap();
        for job in ["12", "13"] {
            std::fs::create_dir_all(root.path().join(job).join("images")).unwrap();
            std::fs::write(
                root.path().join(job).join("images/kernel"),
                format!("kernel of {job}"),
            )
            .unwrap();
        }
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("12/link"))
            .unwrap();
        let server = FileServer::start("127.0.0.1:0", root.path()).unwrap();
        server.allow("12");

        assert_eq!(
            get(&server, "/tmp/12/images/kernel"),
            (200, b"kernel of 12".to_vec())
        );
        assert_eq!(
            get(&server, "/tmp/12/images%2Fkernel").0,
            200,
            "encoded slashes are plain paths"
        );
        // Another job's files, traversal, escapes and encodings of them.
        for path in [
            "/tmp/13/images/kernel",
            "/tmp/12/../13/images/kernel",
            "/tmp/12/images/../../13/images/kernel",
            "/tmp/12/%2e%2e/13/images/kernel",
            "/tmp/12/link",
            "/tmp/12//etc/passwd",
            "/tmp/12/images",
            "/tmp/12/",
            "/etc/passwd",
            "/tmp/12/x%00y",
        ] {
            let (code, body) = get(&server, path);
            assert!(matches!(code, 400 | 403 | 404), "{path}: {code}");
            assert!(
                !body.starts_with(b"kernel of 13") && body != b"do not serve",
                "{path}"
            );
        }
        // After END_OK the job's files are gone from the server.
        server.forbid("12");
        assert_eq!(get(&server, "/tmp/12/images/kernel").0, 404);
    }

    #[test]
    fn only_get_and_head() {
        let root = tempfile::tempdir().unwrap();
        let server = FileServer::start("127.0.0.1:0", root.path()).unwrap();
        let mut stream = TcpStream::connect(server.addr).unwrap();
        write!(stream, "PUT /tmp/1/x HTTP/1.1\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
    }
}
