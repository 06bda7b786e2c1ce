//! `to: nfs` (docs/pipeline.md §9.4): a root file system the
//! device mounts over NFS from the worker, which exports its download
//! directory as LAVA's workers do.
//!
//! ```text
//! nfs-deploy                     (strategy nfs: devices without the image method)
//! ├─ download-retry              nfsrootfs, modules
//! ├─ extract-nfsrootfs
//! ├─ lava-overlay                if a test of the namespace needs it
//! ├─ extract-modules             with modules
//! ├─ apply-overlay-tftp
//! └─ deploy-device-env           if a test needs deployment data
//!
//! deploy-qemu-nfs                (strategy qemu-nfs: QEMU devices with qemu-nfs)
//! ├─ download-retry              one per image (kernel, initrd, nfsrootfs, ...)
//! ├─ qemu-nfs-deploy             images.nfsrootfs unpacked
//! ├─ lava-overlay
//! ├─ apply-overlay-tftp
//! └─ deploy-device-env
//! ```
//!
//! A `persistent_nfs` root (tftp deploys) lives on a server of the lab;
//! before anything is downloaded for it, [`check_nfs_server`] makes sure
//! the server answers NFS with an RPC `NULL` call on TCP port 2049 (LAVA
//! asks `rpcinfo` for NFS version 3 over UDP, which NFSv4-only servers and
//! today's default server configurations do not offer).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lava_devices::DeviceConfig;
use lava_proto::yaml::Value;

use crate::action::{About, Action, Block, Populate, RunContext, Validate};
use crate::error::{Error, ErrorKind};
use crate::job::{scalar, JobInfo};
use crate::strategy::{Family, Strategy};

use super::download::{self, DownloadRetry, DownloadSpec};
use super::overlay::{DeployDeviceEnv, LavaOverlay};
use super::tftp::{persistent_nfs, ApplyOverlayTftp, ExtractModules, ExtractNfsRootfs};

/// `to: nfs` on a device with the `nfs` deploy method and without the
/// `image` one.
#[derive(Debug, Default)]
pub struct NfsStrategy;

impl Strategy for NfsStrategy {
    fn name(&self) -> &str {
        "nfs"
    }
    fn family(&self) -> Family {
        Family::Deploy
    }
    fn handles(&self) -> &'static [&'static str] {
        &["nfs"]
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Deploy.require(block, "nfs")?;
        if device.has_deploy_method("image") {
            return Err("'image' was in the device configuration deploy methods".into());
        }
        Family::Deploy.require_device(device, "nfs")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(NfsDeploy))
    }
}

/// `to: nfs` on a QEMU device with the `nfs` deploy method and the
/// `qemu-nfs` boot method: `images` holds the kernel, the initrd and the
/// `nfsrootfs`.
#[derive(Debug, Default)]
pub struct QemuNfsStrategy;

impl Strategy for QemuNfsStrategy {
    fn name(&self) -> &str {
        "qemu-nfs"
    }
    fn family(&self) -> Family {
        Family::Deploy
    }
    fn handles(&self) -> &'static [&'static str] {
        &["nfs"]
    }
    fn compatibility(&self) -> u32 {
        5
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Deploy.require(block, "nfs")?;
        Family::Deploy.require_device(device, "nfs")?;
        if device.boot_method("qemu-nfs").is_none() {
            return Err("'qemu-nfs' is not in the device configuration boot methods".into());
        }
        match block.get_str("type") {
            None | Some("monitor") => Ok(()),
            Some(_) => Err("'type' was set, but it was not 'monitor'".into()),
        }
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(DeployQemuNfs::default()))
    }
}

/// `nfs-deploy`.
#[derive(Debug, Default)]
pub struct NfsDeploy;

const ABOUT_NFS_DEPLOY: About = About::new("nfs-deploy", "deploy nfsrootfs", "NFS deployment");

impl Action for NfsDeploy {
    fn about(&self) -> About {
        ABOUT_NFS_DEPLOY
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        for key in ["nfsrootfs", "modules"] {
            if let Some(entry) = p.block.get(key) {
                let spec = DownloadSpec::from_entry(key, entry, &p.job.dispatcher, "nfs-deploy")?;
                p.add(DownloadRetry::new(spec));
            }
        }
        p.add(ExtractNfsRootfs::default());
        if p.job.needs_overlay(&p.block.namespace) {
            p.add(LavaOverlay::default());
        }
        if p.block.get("modules").is_some() {
            p.add(ExtractModules);
        }
        p.add(ApplyOverlayTftp);
        if p.job.needs_deployment_data(&p.block.namespace) {
            p.add(DeployDeviceEnv);
        }
        Ok(())
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let block = &v.node.block;
        if block.get("nfsrootfs").is_some() && block.get("persistent_nfs").is_some() {
            v.error("Only one of nfsrootfs or persistent_nfs can be specified");
        }
        validate_persistent_nfs(v);
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        download::publish_dir(ctx, "nfs-deploy")?;
        check_persistent_nfs(ctx)?;
        ctx.run_children()
    }
}

/// `deploy-qemu-nfs`.
#[derive(Debug, Default)]
pub struct DeployQemuNfs {
    labels: Vec<String>,
}

const ABOUT_DEPLOY_QEMU_NFS: About = About::new(
    "deploy-qemu-nfs",
    "deploy qemu with NFS",
    "deploy NFS for QEMU",
);

impl Action for DeployQemuNfs {
    fn about(&self) -> About {
        ABOUT_DEPLOY_QEMU_NFS
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        let images: Vec<(String, Value)> = p
            .block
            .get("images")
            .and_then(Value::as_mapping)
            .map(|m| m.iter().map(|(k, v)| (scalar(k), v.clone())).collect())
            .unwrap_or_default();
        for (label, entry) in images {
            let spec =
                DownloadSpec::from_entry(&label, &entry, &p.job.dispatcher, "deploy-qemu-nfs")?;
            self.labels.push(label);
            p.add(DownloadRetry::new(spec));
        }
        p.add(ExtractNfsRootfs::for_qemu());
        p.add(LavaOverlay::default());
        p.add(ApplyOverlayTftp);
        p.add(DeployDeviceEnv);
        Ok(())
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        if !self.labels.iter().any(|l| l == "nfsrootfs") {
            v.error("deploy-qemu-nfs needs images.nfsrootfs");
        }
        // the QEMU command line gets every image but the root file system
        let labels: Vec<Value> = self
            .labels
            .iter()
            .filter(|l| l.as_str() != "nfsrootfs")
            .map(|l| Value::from(l.as_str()))
            .collect();
        v.set("deployimages", "images", "labels", Value::Sequence(labels));
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        download::publish_dir(ctx, "deploy-qemu-nfs")?;
        ctx.run_children()
    }
}

/// A deploy's `persistent_nfs` address checked and published for the
/// boot commands' `{NFSROOTFS}` and `{NFS_SERVER_IP}`.
pub fn validate_persistent_nfs(v: &mut Validate<'_>) {
    match persistent_nfs(&v.node.block) {
        Ok(Some((server, path))) => {
            v.set("persistent-nfs-overlay", "nfs_address", "nfsroot", path);
            v.set("persistent-nfs-overlay", "nfs_address", "serverip", server);
        }
        Ok(None) => {}
        Err(e) => v.error(e),
    }
}

/// A deploy's `persistent_nfs` server must answer NFS before anything is
/// downloaded for it.
pub fn check_persistent_nfs(ctx: &mut RunContext<'_>) -> Result<(), Error> {
    let Ok(Some((server, _))) = persistent_nfs(&ctx.node.block) else {
        return Ok(());
    };
    let left = ctx
        .deadline
        .remaining()
        .unwrap_or(Duration::MAX)
        .min(Duration::from_secs(30));
    check_nfs_server(&server, left).map_err(|e| {
        Error::infrastructure(format!(
            "The persistent NFS server {server} does not answer NFS: {e}"
        ))
    })?;
    ctx.logger
        .info(format!("The persistent NFS server {server} answers NFS"));
    Ok(())
}

/// The NFS port.
pub const NFS_PORT: u16 = 2049;
const NFS_PROGRAM: u32 = 100_003;

/// An ONC RPC call of procedure 0 (`NULL`) of NFS `version`, with no
/// credentials, in TCP record marking.
pub fn nfs_null_call(xid: u32, version: u32) -> Vec<u8> {
    let words = [xid, 0, 2, NFS_PROGRAM, version, 0, 0, 0, 0, 0];
    let mut out = Vec::with_capacity(4 + words.len() * 4);
    out.extend_from_slice(&(0x8000_0000u32 | (words.len() as u32 * 4)).to_be_bytes());
    for w in words {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out
}

/// What an RPC reply to [`nfs_null_call`] says: `Ok` when NFS answered
/// (the call succeeded, or it names the NFS versions it serves), else
/// why not. `reply` is the record without its marker.
pub fn nfs_null_reply(xid: u32, reply: &[u8]) -> Result<(), String> {
    let word = |i: usize| {
        reply
            .get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if word(0) != Some(xid) || word(1) != Some(1) {
        return Err("the answer is not an RPC reply to the call".into());
    }
    match word(2) {
        Some(0) => {}
        Some(1) => return Err("the RPC call was denied".into()),
        Some(_) => return Err("the answer is not an RPC reply to the call".into()),
        None => return Err("the RPC reply is truncated".into()),
    }
    // accepted: verifier (flavour, length, body of at most 400 bytes),
    // then the status
    let verifier = word(4).ok_or("the RPC reply is truncated")?;
    if verifier > 400 {
        return Err(format!("an RPC verifier of {verifier} bytes"));
    }
    let status = word(5 + (verifier as usize).div_ceil(4)).ok_or("the RPC reply is truncated")?;
    match status {
        0 => Ok(()),
        2 => Ok(()), // PROG_MISMATCH: NFS, other versions
        1 => Err("RPC is served there, but not NFS".into()),
        other => Err(format!("the NFS NULL call failed (RPC status {other})")),
    }
}

/// Whether `server` answers NFS on TCP port 2049 within `timeout`: an RPC
/// `NULL` call of NFS version 4 (a version-3-only server answers with the
/// versions it serves, which is fine too).
pub fn check_nfs_server(server: &str, timeout: Duration) -> Result<(), String> {
    check_rpc_server(server, NFS_PORT, timeout)
}

fn check_rpc_server(server: &str, port: u16, timeout: Duration) -> Result<(), String> {
    let started = Instant::now();
    let addrs: Vec<_> = (server, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {server}: {e}"))?
        .collect();
    let mut last = format!("{server} has no address");
    for addr in addrs {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            last = format!("no answer within {} s", timeout.as_secs());
            break;
        }
        let stream = match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => s,
            Err(e) => {
                last = format!("TCP port {port} of {addr}: {e}");
                continue;
            }
        };
        let xid = std::process::id() ^ 0x4c41_5641;
        let exchange = || -> Result<Vec<u8>, String> {
            let left = timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(1));
            let io = |e: std::io::Error| format!("{addr}: {e}");
            stream.set_read_timeout(Some(left)).map_err(io)?;
            stream.set_write_timeout(Some(left)).map_err(io)?;
            (&stream).write_all(&nfs_null_call(xid, 4)).map_err(io)?;
            // the record's fragments, up to the last one
            let mut reply = Vec::new();
            loop {
                let mut marker = [0u8; 4];
                (&stream).read_exact(&mut marker).map_err(io)?;
                let marker = u32::from_be_bytes(marker);
                let len = (marker & 0x7fff_ffff) as usize;
                if reply.len() + len > 4096 {
                    return Err(format!("{addr}: an RPC reply of more than 4096 bytes"));
                }
                let start = reply.len();
                reply.resize(start + len, 0);
                (&stream).read_exact(&mut reply[start..]).map_err(io)?;
                if marker & 0x8000_0000 != 0 {
                    return Ok(reply);
                }
            }
        };
        match exchange().and_then(|reply| nfs_null_reply(xid, &reply)) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn null_calls_and_their_replies() {
        let call = nfs_null_call(7, 4);
        assert_eq!(call.len(), 44);
        assert_eq!(&call[..4], &[0x80, 0, 0, 40]);
        assert_eq!(&call[16..20], &100_003u32.to_be_bytes());
        // accepted, null verifier, SUCCESS
        assert_eq!(nfs_null_reply(7, &reply(&[7, 1, 0, 0, 0, 0])), Ok(()));
        // a verifier with a body of 5 bytes (padded to 8), PROG_MISMATCH 3..3
        assert_eq!(
            nfs_null_reply(7, &reply(&[7, 1, 0, 1, 5, 0, 0, 2, 3, 3])),
            Ok(())
        );
        assert!(nfs_null_reply(7, &reply(&[7, 1, 0, 0, 0, 1]))
            .unwrap_err()
            .contains("not NFS"));
        assert!(nfs_null_reply(7, &reply(&[7, 1, 1, 0])).is_err());
        assert!(nfs_null_reply(8, &reply(&[7, 1, 0, 0, 0, 0])).is_err());
        assert!(nfs_null_reply(7, &reply(&[7, 1, 0, 0])).is_err());
    }

    /// A server on a free port that answers one call with `answer(xid)`.
    fn answering(answer: fn(u32) -> Vec<u8>) -> (u16, std::thread::JoinHandle<()>) {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (mut s, _) = server.accept().unwrap();
            let mut call = [0u8; 44];
            s.read_exact(&mut call).unwrap();
            let xid = u32::from_be_bytes([call[4], call[5], call[6], call[7]]);
            s.write_all(&answer(xid)).unwrap();
        });
        (port, thread)
    }

    #[test]
    fn servers_are_asked_over_tcp() {
        use std::net::TcpListener;
        // one that answers like NFS (in one fragment, in two), one that
        // hangs up, none at all
        let (port, server) = answering(|xid| {
            let mut out = (0x8000_0000u32 | 24).to_be_bytes().to_vec();
            out.extend(reply(&[xid, 1, 0, 0, 0, 0]));
            out
        });
        check_rpc_server("127.0.0.1", port, Duration::from_secs(5)).unwrap();
        server.join().unwrap();
        let (port, server) = answering(|xid| {
            let whole = reply(&[xid, 1, 0, 0, 0, 0]);
            let mut out = 8u32.to_be_bytes().to_vec();
            out.extend(&whole[..8]);
            out.extend((0x8000_0000u32 | 16).to_be_bytes());
            out.extend(&whole[8..]);
            out
        });
        check_rpc_server("127.0.0.1", port, Duration::from_secs(5)).unwrap();
        server.join().unwrap();

        let rude = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = rude.local_addr().unwrap().port();
        let hanging_up = std::thread::spawn(move || drop(rude.accept().unwrap()));
        assert!(check_rpc_server("127.0.0.1", port, Duration::from_secs(5)).is_err());
        hanging_up.join().unwrap();

        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = check_rpc_server("127.0.0.1", port, Duration::from_secs(5)).unwrap_err();
        assert!(err.contains(&format!("TCP port {port}")), "{err}");
    }
}
