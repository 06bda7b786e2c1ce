//! Downloads over HTTP (a loopback server in the test) and from files:
//! checksums, decompression (gz, bz2, xz), archives, and the errors a job
//! gets for a missing file, a wrong checksum or an archive that tries to
//! escape its directory.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use lava_pipeline::CancelToken;
use lava_pipeline::Logger;
use lava_pipeline::Registry;
use lava_pipeline::{Error, ErrorKind};
use lava_pipeline::{Job, JobInputs};
use md5::Digest as _;

const DEVICE: &str = "actions:\n  deploy: {methods: {image: }}\n  boot: {connections: {serial: }, methods: {minimal: }}\n\
                      timeouts: {actions: {}, connections: {}}\n";

/// A loopback HTTP/1.1 server for `files` (path → body); 404 otherwise.
fn serve(files: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let files = files.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut request = String::new();
                    if reader.read_line(&mut request).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    let mut parts = request.split_whitespace();
                    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    let found = files.iter().find(|(p, _)| p == path);
                    let (status, body): (&str, &[u8]) = match found {
                        Some((_, body)) => ("200 OK", body),
                        None => ("404 Not Found", b"not found"),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    if stream.write_all(head.as_bytes()).is_err() {
                        return;
                    }
                    if method != "HEAD" && stream.write_all(body).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bz2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(data: &[u8]) -> String {
    hex(&<sha2::Sha256 as sha2::Digest>::digest(data))
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        b.append(&header, *data).unwrap();
    }
    b.into_inner().unwrap()
}

struct Ran {
    outcome: Result<(), Error>,
    files: Vec<(String, Vec<u8>)>,
    results: Vec<lava_proto::yaml::Mapping>,
}

/// Deploy `images` (`to: download`), read what was downloaded before cleanup.
fn deploy(images: &str, tmp: &Path) -> Ran {
    let job = format!("job_name: dl\ntimeouts: {{job: {{minutes: 1}}}}\nactions:\n- deploy:\n    to: download\n    images:\n{images}");
    let mut inputs = JobInputs::new("8", &job, DEVICE);
    inputs.tmp_dir = tmp.to_path_buf();
    let (logger, memory) = Logger::memory("8");
    let cancel = CancelToken::new().unwrap();
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let outcome = job
        .validate(&logger, &cancel)
        .and_then(|()| job.run(&logger, &cancel));
    let mut files = Vec::new();
    if let Some(data) = job.data() {
        for (label, key, value) in data.entries("common", "download-action") {
            if key == "file" && label != "file" {
                let path = value.as_str().unwrap().to_string();
                let content = std::fs::read(&path).unwrap_or_default();
                files.push((label, content));
            }
        }
    }
    job.cleanup(&logger, &cancel);
    Ran {
        outcome,
        files,
        results: memory.results(),
    }
}

#[test]
fn http_and_file_downloads_with_checksums_and_decompression() {
    let kernel = b"kernel bytes ".repeat(1000);
    let ramdisk = b"ramdisk bytes ".repeat(500);
    let dtb = b"device tree".to_vec();
    let kernel_gz = gz(&kernel);
    let base = serve(vec![
        ("/k/vmlinuz.gz".into(), kernel_gz.clone()),
        ("/r/initrd.cpio.bz2".into(), bz2(&ramdisk)),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("board.dtb.xz");
    std::fs::write(&local, xz(&dtb)).unwrap();
    let archive = dir.path().join("rootfs.tar.gz");
    std::fs::write(&archive, gz(&tar_of(&[("etc/hostname", b"board\n")]))).unwrap();
    let md5 = hex(&md5::Md5::digest(&kernel_gz));
    let images = format!(
        "      kernel: {{url: '{base}/k/vmlinuz.gz', compression: gz, sha256sum: {}, md5sum: {md5}}}\n\
         \x20     ramdisk: {{url: '{base}/r/initrd.cpio.bz2', compression: bz2}}\n\
         \x20     dtb: {{url: 'file://{}', compression: xz}}\n\
         \x20     rootfs: {{url: 'file://{}', archive: tar}}\n",
        sha256(&kernel_gz),
        local.display(),
        archive.display()
    );
    let ran = deploy(&images, &dir.path().join("tmp"));
    ran.outcome.unwrap();
    let file = |label: &str| {
        ran.files
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, c)| c.clone())
    };
    assert_eq!(file("kernel").unwrap(), kernel);
    assert_eq!(file("ramdisk").unwrap(), ramdisk);
    assert_eq!(file("dtb").unwrap(), dtb);
    let kernel_result = ran
        .results
        .iter()
        .find(|r| {
            r.get("extra")
                .and_then(|e| e.get("label"))
                .and_then(|l| l.as_str())
                == Some("kernel")
        })
        .unwrap();
    let extra = kernel_result.get("extra").unwrap();
    assert_eq!(
        extra.get("sha256sum").and_then(|v| v.as_str()),
        Some(sha256(&kernel_gz).as_str())
    );
    assert_eq!(
        extra.get("size").and_then(|v| v.as_i64()),
        Some(kernel_gz.len() as i64)
    );
    assert_eq!(
        kernel_result.get("case").and_then(|v| v.as_str()),
        Some("http-download")
    );
    // the archive was unpacked (the published path is its directory)
    assert!(ran.files.iter().any(|(l, _)| l == "rootfs"));
    // everything is gone after cleanup
    assert!(!dir.path().join("tmp/8").exists());
}

#[test]
fn download_errors_blame_the_right_party() {
    let base = serve(vec![("/ok".into(), b"data".to_vec())]);
    let dir = tempfile::tempdir().unwrap();

    let ran = deploy(
        &format!("      a: {{url: '{base}/missing'}}\n"),
        &dir.path().join("t1"),
    );
    let e = ran.outcome.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Job);
    assert!(
        e.message
            .contains(&format!("Resource unavailable at '{base}/missing' (404)")),
        "{}",
        e.message
    );

    let ran = deploy(
        &format!(
            "      a: {{url: '{base}/ok', sha256sum: {}}}\n",
            "0".repeat(64)
        ),
        &dir.path().join("t2"),
    );
    let e = ran.outcome.unwrap_err();
    assert_eq!(
        (e.kind, e.message.clone()),
        (
            ErrorKind::Job,
            format!("sha256sum for '{base}/ok' does not match.")
        )
    );
    // the download was retried (3 attempts) before giving up
    assert_eq!(
        ran.results
            .iter()
            .filter(|r| r.get("case").and_then(|c| c.as_str()) == Some("http-download"))
            .count(),
        3
    );

    let ran = deploy(
        "      a: {url: 'file:///no/such/file'}\n",
        &dir.path().join("t3"),
    );
    let e = ran.outcome.unwrap_err();
    assert!(e
        .message
        .contains("Image file '/no/such/file' does not exist or is not readable"));

    let evil = dir.path().join("evil.tar");
    std::fs::write(&evil, tar_of(&[("../../escaped", b"x")])).unwrap();
    let ran = deploy(
        &format!(
            "      a: {{url: 'file://{}', archive: tar}}\n",
            evil.display()
        ),
        &dir.path().join("t4"),
    );
    let e = ran.outcome.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Job);
    assert!(e.message.starts_with("Unable to unpack"), "{}", e.message);
    assert!(!dir.path().join("escaped").exists());

    let job = "job_name: dl\ntimeouts: {job: {minutes: 1}}\nactions:\n- deploy: {to: download, images: {a: {url: 'ftp://example.com/a'}}}\n";
    let e = Job::parse(
        &JobInputs::new("9", job, DEVICE),
        &Registry::with_builtins(),
    )
    .unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Job, "Unsupported url protocol scheme: ftp")
    );
}
