//! `to: tftp` (docs/pipeline.md §9.2, §9.3): the kernel, device tree, ramdisk,
//! modules and NFS root of a U-Boot job, downloaded into a per-job
//! directory under the TFTP root, and the ramdisk prepared for the board.
//!
//! ```text
//! tftp-deploy
//! ├─ download-retry            one per key present: ramdisk, kernel, dtb, nfsrootfs, modules
//! ├─ prepare-tftp-overlay
//! │  ├─ extract-nfsrootfs      with nfsrootfs: unpacked in the job's tmp dir
//! │  ├─ lava-overlay           if a test of the namespace needs it
//! │  ├─ extract-modules        with modules: for the ramdisk and the NFS root
//! │  ├─ apply-overlay-tftp     with nfsrootfs or persistent_nfs: the overlay into the NFS root
//! │  └─ compress-ramdisk       strip / append modules and overlay / re-wrap (below)
//! └─ deploy-device-env         if a test needs deployment data
//! ```
//!
//! Where files go follows LAVA, so existing worker set-ups keep working:
//! the TFTP root is the dispatcher configuration's `tftp_root` when set,
//! else `TFTP_DIRECTORY` of `/etc/default/tftpd-hpa` (the file
//! tftpd-hpa's packaging installs); the job's files are in
//! `<root>/<prefix><job id>/tftp-deploy-<random>/<key>/<file>` and the
//! bootloader sees them by their TFTP-relative path, published as
//! `download-action/file/<key>` (ramdisk: `compress-ramdisk/file/ramdisk`).
//! The directory is removed when the job ends.
//!
//! `persistent_nfs: {address: "server:/path"}` boots a root file system
//! that lives on an NFS server of the lab: validation checks the address,
//! the deploy asks the server whether it answers NFS (an RPC `NULL` call
//! on TCP port 2049, [`super::nfs::check_nfs_server`]), the overlay is
//! copied into it through `mount -t nfs` on the worker (unless
//! `install_overlay: false`), and the boot commands get `{NFSROOTFS}` =
//! the path and `{NFS_SERVER_IP}` = the server.
//!
//! A TFTP server must serve that root: validation looks for `in.tftpd`
//! (tftpd-hpa) on `PATH`, as LAVA does, or for the command the dispatcher
//! configuration names as `tftp_server`; `tftp_server: external` says that
//! something else serves the root (another host, or the built-in TFTP of
//! an emulated board such as `share/device-types/qemu-uboot-bench.jinja2`)
//! and skips the check.
//!
//! The ramdisk is handled in Rust, without `cpio`, `gzip` or `mkimage`:
//! a legacy U-Boot header (`ramdisk.header: u-boot`) is stripped, the
//! test overlay is appended as a second newc cpio archive (the kernel
//! unpacks concatenated archives), and on devices whose deploy
//! parameters say `add_header: u-boot` the result gets a new legacy
//! header (type ramdisk, no compression, `mkimage_arch`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lava_devices::DeviceConfig;
use lava_proto::yaml::Value;

use crate::action::{About, Action, Block, Populate, RunContext, Validate};
use crate::actions::deploy::download::{DownloadRetry, DownloadSpec};
use crate::actions::deploy::overlay::{DeployDeviceEnv, LavaOverlay};
use crate::error::{Error, ErrorKind};
use crate::job::{scalar, JobInfo};
use crate::strategy::{Family, Strategy};

/// The file tftpd-hpa's packaging keeps its configuration in.
pub const TFTPD_DEFAULTS: &str = "/etc/default/tftpd-hpa";

/// The TFTP server LAVA's packaging installs (tftpd-hpa).
pub const TFTP_SERVER: &str = "in.tftpd";

/// The TFTP server of this worker: `None` when the dispatcher
/// configuration says `tftp_server: external`, else the path of
/// `tftp_server` (default `in.tftpd`) found on `PATH`. Missing, it is an
/// infrastructure error that says what to install or set.
pub fn tftp_server(dispatcher: &lava_proto::yaml::Mapping) -> Result<Option<PathBuf>, Error> {
    let name = dispatcher
        .get("tftp_server")
        .map(scalar)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| TFTP_SERVER.to_string());
    if name == "external" {
        return Ok(None);
    }
    crate::host::which(&name).map(Some).map_err(|_| {
        Error::infrastructure(format!(
            "No TFTP server: '{name}' is not on $PATH (install tftpd-hpa, or set 'tftp_server' in the dispatcher configuration: a command, or 'external' when another server serves the TFTP root)"
        ))
    })
}

/// The `persistent_nfs` address of a deploy block, split into
/// `(server, path)`: `Ok(None)` without `persistent_nfs`, an error for an
/// address that is not `server:/path`.
pub fn persistent_nfs(block: &Block) -> Result<Option<(String, String)>, String> {
    let Some(entry) = block.get("persistent_nfs") else {
        return Ok(None);
    };
    let Some(address) = entry.get("address").map(scalar) else {
        return Err("Missing address for persistent NFS".into());
    };
    match address.split_once(':') {
        Some((server, path))
            if !server.is_empty() && path.starts_with('/') && !path.contains(':') =>
        {
            Ok(Some((server.to_string(), path.to_string())))
        }
        _ => Err(format!(
            "Unrecognised NFS URL: '{address}' (persistent_nfs: address must be server:/path)"
        )),
    }
}

/// The keys a tftp deploy downloads, in LAVA's order.
pub const TFTP_KEYS: [&str; 5] = ["ramdisk", "kernel", "dtb", "nfsrootfs", "modules"];

/// The magic number of a legacy U-Boot image header.
pub const UBOOT_MAGIC: u32 = 0x2705_1956;
/// The size of a legacy U-Boot image header.
pub const UBOOT_HEADER_LEN: usize = 64;

/// `to: tftp` on a device with the `tftp` deploy method.
#[derive(Debug, Default)]
pub struct TftpStrategy;

impl Strategy for TftpStrategy {
    fn name(&self) -> &str {
        "tftp"
    }
    fn family(&self) -> Family {
        Family::Deploy
    }
    fn handles(&self) -> &'static [&'static str] {
        &["tftp"]
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Deploy.require(block, "tftp")?;
        Family::Deploy.require_device(device, "tftp")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(TftpDeploy::default()))
    }
}

/// The TFTP root: `tftp_root` of the dispatcher configuration, else
/// `TFTP_DIRECTORY` in `defaults` (the text of `/etc/default/tftpd-hpa`).
pub fn tftp_root(
    dispatcher: &lava_proto::yaml::Mapping,
    defaults: Option<&str>,
) -> Result<PathBuf, Error> {
    if let Some(root) = dispatcher.get("tftp_root").map(scalar) {
        if !root.is_empty() {
            return Ok(PathBuf::from(root));
        }
    }
    let Some(text) = defaults else {
        return Err(Error::infrastructure(format!(
            "Unable to find the TFTP root: no 'tftp_root' in the dispatcher configuration and no {TFTPD_DEFAULTS}"
        )));
    };
    for line in text.lines() {
        let line = line.trim();
        let Some(value) = line.strip_prefix("TFTP_DIRECTORY=") else {
            continue;
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if !value.is_empty() {
            return Ok(PathBuf::from(value));
        }
    }
    Err(Error::infrastructure(
        "tftpd directory is not configured correctly, see /etc/default/tftpd-hpa",
    ))
}

fn root_for(job: &JobInfo) -> Result<PathBuf, Error> {
    let defaults = std::fs::read_to_string(TFTPD_DEFAULTS).ok();
    tftp_root(&job.dispatcher, defaults.as_deref())
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::io(path.display(), e)
}

/// `tftp-deploy`.
#[derive(Debug, Default)]
pub struct TftpDeploy {
    keys: Vec<String>,
    dir: Option<PathBuf>,
}

const ABOUT_TFTP_DEPLOY: About = About::new(
    "tftp-deploy",
    "download files and deploy using tftp",
    "tftp deployment",
);

impl Action for TftpDeploy {
    fn about(&self) -> About {
        ABOUT_TFTP_DEPLOY
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        for key in TFTP_KEYS {
            if let Some(entry) = p.block.get(key) {
                let mut spec =
                    DownloadSpec::from_entry(key, entry, &p.job.dispatcher, "tftp-deploy")?;
                if key == "ramdisk" {
                    // kept as downloaded: a U-Boot header may come before
                    // the compressed data (compress-ramdisk handles it)
                    spec.compression = None;
                }
                self.keys.push(key.to_string());
                p.add(DownloadRetry::new(spec));
            }
        }
        p.add(PrepareTftpOverlay);
        if p.job.needs_deployment_data(&p.block.namespace) {
            p.add(DeployDeviceEnv);
        }
        Ok(())
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        if v.node.block.get("kernel").is_none() {
            v.error("tftp-deploy needs a kernel to deploy");
        }
        if v.node.block.get("nfsrootfs").is_some() && v.node.block.get("persistent_nfs").is_some() {
            v.error("Only one of nfsrootfs or persistent_nfs can be specified");
        }
        if let Err(e) = root_for(v.job) {
            v.error(e.message);
        }
        tftp_server(&v.job.dispatcher)?;
        super::nfs::validate_persistent_nfs(v);
        if let Some(kind) = v
            .node
            .block
            .get("kernel")
            .and_then(|k| k.get("type"))
            .map(scalar)
        {
            match boot_command(&v.job.device, &kind) {
                Ok(command) => v.set(
                    "uboot-prepare-kernel",
                    "bootcommand",
                    "bootcommand",
                    command.as_str(),
                ),
                Err(e) => v.error(e),
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let root = root_for(ctx.job)?;
        let job_dir = root.join(format!("{}{}", ctx.job.prefix(), ctx.job.id));
        std::fs::create_dir_all(&job_dir).map_err(|e| io_err(&job_dir, e))?;
        let dir = unique_dir(&job_dir, "tftp-deploy")?;
        self.dir = Some(job_dir.clone());
        let suffix = dir
            .strip_prefix(&root)
            .map_err(|_| {
                Error::infrastructure(
                    "tftpd directory is not configured correctly, see /etc/default/tftpd-hpa",
                )
            })?
            .display()
            .to_string();
        ctx.set("tftp-deploy", "dir", "path", dir.display().to_string());
        ctx.set("tftp-deploy", "tftp", "tftp_dir", dir.display().to_string());
        ctx.set("tftp-deploy", "tftp", "suffix", suffix.as_str());
        if self.keys.iter().any(|k| k == "ramdisk") {
            ctx.set("tftp-deploy", "tftp", "ramdisk", true);
        }
        super::nfs::check_persistent_nfs(ctx)?;
        ctx.run_children()?;
        let limit = ctx
            .job
            .dispatcher
            .get("tftp_size_limit")
            .and_then(|v| scalar(v).parse::<u64>().ok())
            .unwrap_or(4 * 1024 * 1024 * 1024);
        for key in &self.keys {
            let Some(file) = ctx.get_str("download-action", key, "file") else {
                continue;
            };
            let path = PathBuf::from(&file);
            let relative = match path.strip_prefix(&root) {
                Ok(r) => r.display().to_string(),
                Err(_) => continue,
            };
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size > limit {
                return Err(Error::job(format!(
                    "Unable to send '{}' over tftp: file too large ({size} > {limit})",
                    path.file_name().unwrap_or_default().to_string_lossy()
                )));
            }
            ctx.set("download-action", "file", key, relative.as_str());
        }
        Ok(())
    }
    fn cleanup(&mut self, ctx: &mut crate::action::CleanupContext<'_>) {
        if let Some(dir) = self.dir.take() {
            if std::fs::remove_dir_all(&dir).is_ok() {
                ctx.logger
                    .debug(format!("Removed the TFTP directory {}", dir.display()));
            }
        }
    }
}

/// The U-Boot command for a kernel `type` on `device` (§9.5): `image` →
/// `booti`, `zimage` → `bootz`, `uimage` → `bootm`; `bootm` when the
/// device has no load addresses for the natural one.
pub fn boot_command(device: &DeviceConfig, kind: &str) -> Result<String, String> {
    let natural = match kind.to_ascii_lowercase().as_str() {
        "image" => "booti",
        "zimage" => "bootz",
        "uimage" => "bootm",
        "bootm" | "bootz" | "booti" => {
            return Err(format!(
                "Kernel type '{kind}' is deprecated: use image, zimage or uimage"
            ))
        }
        other => return Err(format!("Unknown kernel type '{other}'")),
    };
    if device.parameters.get(natural).is_some() {
        return Ok(natural.to_string());
    }
    if device.parameters.get("bootm").is_some() {
        return Ok("bootm".to_string());
    }
    Err(format!(
        "Device has no load addresses for '{natural}' (parameters.{natural})"
    ))
}

/// A new directory `<base>/<name>-<unique>` (mode 0755).
fn unique_dir(base: &Path, name: &str) -> Result<PathBuf, Error> {
    use std::os::unix::fs::DirBuilderExt;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    for attempt in 0..1000u32 {
        let dir = base.join(format!(
            "{name}-{:08x}",
            stamp.wrapping_add(attempt.wrapping_mul(7919))
        ));
        match std::fs::DirBuilder::new().mode(0o755).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&dir, e)),
        }
    }
    Err(Error::infrastructure(format!(
        "Unable to create a directory in {}",
        base.display()
    )))
}

/// `prepare-tftp-overlay`.
#[derive(Debug, Default)]
pub struct PrepareTftpOverlay;

const ABOUT_PREPARE_TFTP_OVERLAY: About = About::new(
    "prepare-tftp-overlay",
    "extract ramdisk or nfsrootfs in preparation for lava overlay",
    "extract ramdisk or nfsrootfs",
);

impl Action for PrepareTftpOverlay {
    fn about(&self) -> About {
        ABOUT_PREPARE_TFTP_OVERLAY
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        if p.block.get("nfsrootfs").is_some() {
            p.add(ExtractNfsRootfs::default());
        }
        if p.job.needs_overlay(&p.block.namespace) {
            p.add(LavaOverlay::default());
        }
        if p.block.get("modules").is_some() {
            p.add(ExtractModules);
        }
        if p.block.get("nfsrootfs").is_some() || p.block.get("persistent_nfs").is_some() {
            p.add(ApplyOverlayTftp);
        }
        p.add(CompressRamdisk::default());
        Ok(())
    }
}

/// `compress-ramdisk`: the ramdisk the board is given.
#[derive(Debug, Default)]
pub struct CompressRamdisk {
    mkimage_arch: Option<String>,
    add_header: bool,
}

const ABOUT_COMPRESS_RAMDISK: About = About::new(
    "compress-ramdisk",
    "recreate a ramdisk with the overlay applied.",
    "compress ramdisk with overlay",
);

impl Action for CompressRamdisk {
    fn about(&self) -> About {
        ABOUT_COMPRESS_RAMDISK
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let params = v
            .job
            .device
            .actions
            .as_ref()
            .map(|a| a.deploy_parameters.clone())
            .unwrap_or_default();
        if let Some(header) = params.get("add_header").map(scalar) {
            if header != "u-boot" {
                v.error("ramdisk: add_header: unknown header type");
            } else if v.node.block.get("ramdisk").is_some() {
                self.add_header = true;
                match params.get("mkimage_arch").map(scalar) {
                    Some(arch) if uboot_arch(&arch).is_some() => self.mkimage_arch = Some(arch),
                    Some(arch) => v.error(format!("Unknown mkimage_arch '{arch}'")),
                    None => v.error(
                        "Missing architecture for uboot mkimage support (mkimage_arch in deploy parameters)",
                    ),
                }
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(file) = ctx.get_str("download-action", "ramdisk", "file") else {
            return Ok(());
        };
        let ramdisk = ctx.node.block.get("ramdisk").cloned().unwrap_or_default();
        let flag = |key: &str| ramdisk.get(key).and_then(Value::as_bool).unwrap_or(true);
        let strip = ramdisk.get("header").map(scalar).as_deref() == Some("u-boot");
        let to_nfsroot = ctx.get("apply-overlay-tftp", "overlay", "target").is_some();
        let overlay_dir = if flag("install_overlay") && !to_nfsroot {
            ctx.get_str("test", "shared", "location").map(PathBuf::from)
        } else {
            None
        };
        let modules_dir = if flag("install_modules") {
            ctx.get_str("extract-modules", "modules", "dir")
                .map(PathBuf::from)
        } else {
            None
        };
        let path = PathBuf::from(&file);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let untouched =
            !strip && overlay_dir.is_none() && modules_dir.is_none() && !self.add_header;
        let final_path = if untouched {
            path.clone()
        } else {
            let mut data = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
            if strip {
                data = strip_uboot_header(&data)
                    .map_err(|e| Error::job(format!("ramdisk: {e}")))?
                    .to_vec();
            }
            if let Some(modules) = &modules_dir {
                let archive = newc_archive(modules).map_err(|e| io_err(modules, e))?;
                ctx.logger.debug(format!(
                    "Appending the modules ({} bytes of cpio) to the ramdisk",
                    archive.len()
                ));
                data.extend_from_slice(&gzip(&archive).map_err(|e| io_err(&path, e))?);
            }
            if let Some(location) = &overlay_dir {
                // the kernel unpacks concatenated (compressed) cpio
                // archives: the overlay follows as a gzipped newc archive
                let overlay = newc_archive(location).map_err(|e| io_err(location, e))?;
                ctx.logger.debug(format!(
                    "Appending the overlay ({} bytes of cpio) to the ramdisk",
                    overlay.len()
                ));
                data.extend_from_slice(&gzip(&overlay).map_err(|e| io_err(&path, e))?);
            }
            let mut name = match ramdisk.get("compression").map(scalar) {
                Some(c) => format!("ramdisk.cpio.{c}"),
                None => path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| "ramdisk".into()),
            };
            if strip {
                name = name
                    .trim_end_matches(".u-boot")
                    .trim_end_matches(".uboot")
                    .to_string();
            }
            if self.add_header {
                let arch = self.mkimage_arch.as_deref().unwrap_or("arm64");
                data = uboot_wrap(&data, arch, "ramdisk", unix_time())
                    .map_err(|e| Error::job(format!("ramdisk: {e}")))?;
                name.push_str(".uboot");
            }
            let out = dir.join(&name);
            if out != path {
                let _ = std::fs::remove_file(&path);
            }
            std::fs::write(&out, &data).map_err(|e| io_err(&out, e))?;
            out
        };
        let suffix = ctx
            .get_str("tftp-deploy", "tftp", "suffix")
            .unwrap_or_default();
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let relative = format!("{suffix}/ramdisk/{name}");
        ctx.set(
            "compress-ramdisk",
            "file",
            "full-path",
            final_path.display().to_string(),
        );
        ctx.set("compress-ramdisk", "file", "ramdisk", relative.as_str());
        ctx.set(
            "download-action",
            "ramdisk",
            "file",
            final_path.display().to_string(),
        );
        ctx.logger.info(format!("ramdisk for TFTP: {relative}"));
        Ok(())
    }
}

/// Unpack the download of `key` into the root file system at `dest`
/// (docs/pipeline.md §9.4: links kept, never followed out of it).
fn untar_into_root(ctx: &mut RunContext<'_>, key: &str, dest: &Path) -> Result<(), Error> {
    let file = ctx
        .get_str("download-action", key, "file")
        .ok_or_else(|| Error::bug(format!("no download of '{key}'")))?;
    let reader = std::fs::File::open(&file).map_err(|e| io_err(Path::new(&file), e))?;
    let done = crate::archive::extract_rootfs(reader, dest)
        .map_err(|e| Error::job(format!("Unable to unpack {file}: {e}")))?;
    ctx.logger.debug(format!(
        "Unpacked {} members of {key} into {}",
        done.members,
        dest.display()
    ));
    if done.skipped > 0 {
        ctx.logger.info(format!(
            "{key}: left out {} device nodes and FIFOs (the device's devtmpfs provides them)",
            done.skipped
        ));
    }
    Ok(())
}

/// A new directory `<job dir>/<name>-<unique>/<inner>` whose parent only
/// lava-run's user may enter: what is unpacked there (set-id programs of a
/// root file system) is of no use to the worker's other users, while the
/// NFS server, running as root, still reaches it.
fn private_dir(ctx: &mut RunContext<'_>, name: &str, inner: &str) -> Result<PathBuf, Error> {
    use std::os::unix::fs::PermissionsExt;
    let private = ctx.data.mkdtemp(name)?;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io_err(&private, e))?;
    let dir = private.join(inner);
    std::fs::create_dir(&dir).map_err(|e| io_err(&dir, e))?;
    Ok(dir)
}

/// The job's `nfsrootfs` entry: the block's own (`to: tftp`, `to: nfs`)
/// or under `images` (`to: nfs` on a QEMU device).
pub fn nfsrootfs_entry(block: &Block) -> Option<&Value> {
    block
        .get("nfsrootfs")
        .or_else(|| block.get("images").and_then(|i| i.get("nfsrootfs")))
}

/// `extract-nfsrootfs` (`qemu-nfs-deploy` for QEMU): the `nfsrootfs`
/// tarball unpacked under the job's temporary directory (which the
/// worker's NFS server exports, as with LAVA), published for
/// `{NFSROOTFS}`. The root goes one level down a directory only root may
/// enter, so that the set-id programs a root file system holds are of no
/// use to the worker's other users.
#[derive(Debug)]
pub struct ExtractNfsRootfs {
    about: About,
}

const ABOUT_EXTRACT_NFSROOTFS: About = About::new(
    "extract-nfsrootfs",
    "unpack nfsrootfs",
    "unpack nfsrootfs, ready to apply lava overlay",
);
const ABOUT_QEMU_NFS_DEPLOY: About = About::new(
    "qemu-nfs-deploy",
    "deploy nfsrootfs for QEMU",
    "NFS deployment for QEMU",
);

impl Default for ExtractNfsRootfs {
    fn default() -> Self {
        ExtractNfsRootfs {
            about: ABOUT_EXTRACT_NFSROOTFS,
        }
    }
}

impl ExtractNfsRootfs {
    /// The QEMU variant's name, `qemu-nfs-deploy`.
    pub fn for_qemu() -> Self {
        ExtractNfsRootfs {
            about: ABOUT_QEMU_NFS_DEPLOY,
        }
    }
}

impl Action for ExtractNfsRootfs {
    fn about(&self) -> About {
        self.about
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        if let Some(prefix) = nfsrootfs_entry(&v.node.block)
            .and_then(|n| n.get("prefix"))
            .map(scalar)
        {
            if prefix.starts_with('/') || !prefix.ends_with('/') {
                v.error("nfsrootfs: 'prefix' must be relative and end with '/'");
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        if nfsrootfs_entry(&ctx.node.block).is_none() {
            return Ok(());
        }
        let dir = private_dir(ctx, "extract-nfsrootfs", "root")?;
        untar_into_root(ctx, "nfsrootfs", &dir)?;
        let prefix = nfsrootfs_entry(&ctx.node.block)
            .and_then(|n| n.get("prefix"))
            .map(scalar);
        let root = match prefix {
            Some(p) => {
                ctx.logger.warning(format!(
                    "Using the '{p}' directory of the nfsrootfs: the rest is not visible"
                ));
                crate::archive::resolve_in_root(&dir, Path::new(&p), true)
                    .map_err(|e| io_err(&dir, e))?
            }
            None => dir,
        };
        ctx.logger
            .info(format!("NFS root extracted to {}", root.display()));
        ctx.set(
            "extract-rootfs",
            "file",
            "nfsroot",
            root.display().to_string(),
        );
        Ok(())
    }
}

/// `extract-modules`: the `modules` tarball, unpacked for the ramdisk
/// (appended by `compress-ramdisk`) and into the NFS root.
#[derive(Debug, Default)]
pub struct ExtractModules;

const ABOUT_EXTRACT_MODULES: About = About::new(
    "extract-modules",
    "extract supplied kernel modules",
    "extract kernel modules",
);

impl Action for ExtractModules {
    fn about(&self) -> About {
        ABOUT_EXTRACT_MODULES
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let block = &v.node.block;
        if block.get("ramdisk").is_none() && block.get("nfsrootfs").is_none() {
            v.error("Unable to identify a location for the unpacked modules");
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let block = ctx.node.block.clone();
        let wanted = |key: &str| {
            block.get(key).is_some()
                && block
                    .get(key)
                    .and_then(|k| k.get("install_modules"))
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
        };
        if wanted("nfsrootfs") {
            if let Some(root) = ctx.get_str("extract-rootfs", "file", "nfsroot") {
                untar_into_root(ctx, "modules", Path::new(&root))?;
            }
        }
        if wanted("ramdisk") {
            // one level below a private directory: a modules archive may
            // carry set-id files (and its "./" sets the tree's own mode)
            let dir = private_dir(ctx, "extract-modules", "modules")?;
            untar_into_root(ctx, "modules", &dir)?;
            ctx.set(
                "extract-modules",
                "modules",
                "dir",
                dir.display().to_string(),
            );
        }
        Ok(())
    }
}

/// `apply-overlay-tftp`: the test overlay copied into the NFS root
/// (unless `nfsrootfs.install_overlay: false`); a ramdisk gets it from
/// `compress-ramdisk` otherwise.
#[derive(Debug, Default)]
pub struct ApplyOverlayTftp;

const ABOUT_APPLY_OVERLAY_TFTP: About = About::new(
    "apply-overlay-tftp",
    "unpack the overlay into the nfsrootfs or ramdisk",
    "apply lava overlay test files",
);

impl Action for ApplyOverlayTftp {
    fn about(&self) -> About {
        ABOUT_APPLY_OVERLAY_TFTP
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(location) = ctx.get_str("test", "shared", "location") else {
            return Ok(());
        };
        let (key, root) = if let Some(root) = ctx.get_str("extract-rootfs", "file", "nfsroot") {
            ("nfsrootfs", Some(root))
        } else if ctx.node.block.get("persistent_nfs").is_some() {
            ("persistent_nfs", None)
        } else {
            return Ok(());
        };
        let entry = match key {
            "nfsrootfs" => nfsrootfs_entry(&ctx.node.block),
            _ => ctx.node.block.get(key),
        };
        let install = entry
            .and_then(|n| n.get("install_overlay"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        // the overlay goes to one place: the NFS root, or nowhere
        ctx.set("apply-overlay-tftp", "overlay", "target", "nfsroot");
        if !install {
            ctx.logger.info(format!(
                "{key}: install_overlay is false, the overlay is not applied"
            ));
            return Ok(());
        }
        match root {
            Some(root) => {
                crate::archive::copy_into_root(Path::new(&location), Path::new(&root))
                    .map_err(|e| io_err(Path::new(&root), e))?;
                ctx.logger.info(format!("Overlay applied to {root}"));
            }
            None => {
                let address = ctx
                    .node
                    .block
                    .get("persistent_nfs")
                    .and_then(|n| n.get("address"))
                    .map(scalar)
                    .unwrap_or_default();
                let mount = ctx.data.mkdtemp("persistent-nfs")?;
                let text = mount.display().to_string();
                let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
                crate::host::run(
                    &argv(&["mount", "-t", "nfs", &address, &text]),
                    &ctx.deadline,
                    ctx.cancel,
                    ctx.logger,
                    ErrorKind::Infrastructure,
                )?;
                let copied = crate::archive::copy_into_root(Path::new(&location), &mount);
                // unmounted whatever the copy gave, so the share is not left
                // mounted on the worker
                let unmounted = crate::host::run(
                    &argv(&["umount", &text]),
                    &ctx.deadline,
                    ctx.cancel,
                    ctx.logger,
                    ErrorKind::Infrastructure,
                );
                copied.map_err(|e| {
                    Error::infrastructure(format!("Unable to copy the overlay to {address}: {e}"))
                })?;
                unmounted?;
                let _ = std::fs::remove_dir(&mount);
                ctx.logger.info(format!("Overlay applied to {address}"));
            }
        }
        Ok(())
    }
}

fn unix_time() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or_default()
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data)?;
    gz.finish()
}

/// Errors of the U-Boot image header handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UBootImageError {
    /// Shorter than a header.
    #[error("file too short for a U-Boot header ({0} bytes)")]
    TooShort(usize),
    /// No legacy U-Boot magic number.
    #[error("no U-Boot header (magic {0:#010x}): missing header definition?")]
    BadMagic(u32),
    /// The header's checksum is wrong.
    #[error("U-Boot header checksum mismatch")]
    HeaderCrc,
    /// The header says more data than there is.
    #[error("U-Boot header says {expected} bytes of data, the file has {actual}")]
    Truncated {
        /// Size in the header.
        expected: usize,
        /// Bytes after the header.
        actual: usize,
    },
    /// An architecture mkimage does not know.
    #[error("unknown mkimage architecture '{0}'")]
    UnknownArch(String),
    /// A type this writer does not make.
    #[error("unknown image type '{0}'")]
    UnknownType(String),
    /// More than 4 GiB.
    #[error("image too large for a U-Boot header")]
    TooLarge,
}

/// The data of a legacy U-Boot image (what follows its 64-byte header),
/// after checking the magic, header checksum and size.
pub fn strip_uboot_header(data: &[u8]) -> Result<&[u8], UBootImageError> {
    if data.len() < UBOOT_HEADER_LEN {
        return Err(UBootImageError::TooShort(data.len()));
    }
    let word = |at: usize| u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    if word(0) != UBOOT_MAGIC {
        return Err(UBootImageError::BadMagic(word(0)));
    }
    let mut header = data[..UBOOT_HEADER_LEN].to_vec();
    header[4..8].fill(0);
    if crc32(&header) != word(4) {
        return Err(UBootImageError::HeaderCrc);
    }
    let size = word(12) as usize;
    let body = &data[UBOOT_HEADER_LEN..];
    if body.len() < size {
        return Err(UBootImageError::Truncated {
            expected: size,
            actual: body.len(),
        });
    }
    Ok(&body[..size])
}

/// mkimage's architecture numbers (`IH_ARCH_*`).
pub fn uboot_arch(name: &str) -> Option<u8> {
    Some(match name {
        "arm" => 2,
        "x86" | "i386" => 3,
        "mips" => 5,
        "powerpc" | "ppc" => 7,
        "arm64" => 22,
        "x86_64" => 24,
        "riscv" => 26,
        _ => return None,
    })
}

/// `mkimage -A <arch> -O linux -T <kind> -C none -a 0 -e 0 -d data`: a
/// legacy U-Boot header (name empty) followed by `data`.
pub fn uboot_wrap(
    data: &[u8],
    arch: &str,
    kind: &str,
    time: u32,
) -> Result<Vec<u8>, UBootImageError> {
    let arch_id = uboot_arch(arch).ok_or_else(|| UBootImageError::UnknownArch(arch.into()))?;
    let type_id = match kind {
        "kernel" => 2,
        "ramdisk" => 3,
        "script" => 6,
        other => return Err(UBootImageError::UnknownType(other.into())),
    };
    let size = u32::try_from(data.len()).map_err(|_| UBootImageError::TooLarge)?;
    let mut header = vec![0u8; UBOOT_HEADER_LEN];
    header[0..4].copy_from_slice(&UBOOT_MAGIC.to_be_bytes());
    header[8..12].copy_from_slice(&time.to_be_bytes());
    header[12..16].copy_from_slice(&size.to_be_bytes());
    // load and entry addresses (16..24) stay 0
    header[24..28].copy_from_slice(&crc32(data).to_be_bytes());
    header[28] = 5; // IH_OS_LINUX
    header[29] = arch_id;
    header[30] = type_id;
    header[31] = 0; // IH_COMP_NONE
    let hcrc = crc32(&header);
    header[4..8].copy_from_slice(&hcrc.to_be_bytes());
    header.extend_from_slice(data);
    Ok(header)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// A newc cpio archive of the tree under `root` (paths relative to it,
/// owner root, sorted), with its trailer.
pub fn newc_archive(root: &Path) -> std::io::Result<Vec<u8>> {
    let mut entries = Vec::new();
    collect(root, Path::new(""), &mut entries)?;
    entries.sort();
    let mut out = Vec::new();
    for (ino, relative) in entries.iter().enumerate() {
        use std::os::unix::fs::MetadataExt;
        let path = root.join(relative);
        let meta = std::fs::symlink_metadata(&path)?;
        let data = if meta.file_type().is_symlink() {
            std::fs::read_link(&path)?
                .as_os_str()
                .as_encoded_bytes()
                .to_vec()
        } else if meta.is_file() {
            std::fs::read(&path)?
        } else {
            Vec::new()
        };
        let name = relative.as_os_str().as_encoded_bytes();
        newc_entry(&mut out, ino as u32 + 1, meta.mode(), name, &data);
    }
    newc_entry(&mut out, 0, 0, b"TRAILER!!!", &[]);
    Ok(out)
}

fn collect(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let rel = relative.join(entry.file_name());
        let kind = entry.file_type()?;
        out.push(rel.clone());
        if kind.is_dir() {
            collect(root, &rel, out)?;
        }
    }
    Ok(())
}

fn newc_entry(out: &mut Vec<u8>, ino: u32, mode: u32, name: &[u8], data: &[u8]) {
    let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08X}").as_bytes());
    }
    out.extend_from_slice(name);
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lava_proto::yaml::{self, Mapping};

    #[test]
    fn a_wrapped_ramdisk_strips_back_to_its_data() {
        let data = b"070701 pretend cpio data".repeat(100);
        let image = uboot_wrap(&data, "arm64", "ramdisk", 1_700_000_000).unwrap();
        assert_eq!(image.len(), data.len() + 64);
        assert_eq!(&image[..4], &[0x27, 0x05, 0x19, 0x56]);
        assert_eq!(image[28..32], [5, 22, 3, 0]);
        assert_eq!(strip_uboot_header(&image).unwrap(), &data[..]);
    }

    #[test]
    fn header_fields_are_mkimages() {
        // mkimage -A arm -O linux -T ramdisk -C none -d empty: data CRC 0,
        // size 0, arch 2
        let image = uboot_wrap(b"", "arm", "ramdisk", 0).unwrap();
        assert_eq!(&image[12..16], &[0, 0, 0, 0]);
        assert_eq!(&image[24..28], &[0, 0, 0, 0]);
        assert_eq!(image[29], 2);
        let abc = uboot_wrap(b"abc", "arm64", "ramdisk", 0).unwrap();
        // CRC-32 of "abc"
        assert_eq!(&abc[24..28], &0x3524_41c2u32.to_be_bytes());
    }

    #[test]
    fn bad_headers_are_refused() {
        assert_eq!(
            strip_uboot_header(b"short"),
            Err(UBootImageError::TooShort(5))
        );
        let plain = vec![0x1fu8; 100];
        assert!(matches!(
            strip_uboot_header(&plain),
            Err(UBootImageError::BadMagic(_))
        ));
        let mut image = uboot_wrap(b"hello", "arm", "ramdisk", 7).unwrap();
        image[40] ^= 1;
        assert_eq!(strip_uboot_header(&image), Err(UBootImageError::HeaderCrc));
        let image = uboot_wrap(b"hello", "arm", "ramdisk", 7).unwrap();
        assert_eq!(
            strip_uboot_header(&image[..66]),
            Err(UBootImageError::Truncated {
                expected: 5,
                actual: 2
            })
        );
        assert_eq!(
            uboot_wrap(b"", "vax", "ramdisk", 0),
            Err(UBootImageError::UnknownArch("vax".into()))
        );
    }

    #[test]
    fn a_newc_archive_lists_the_tree_and_ends_with_the_trailer() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lava-1/bin")).unwrap();
        std::fs::write(dir.path().join("lava-1/bin/run"), b"#!/bin/sh\n").unwrap();
        let archive = newc_archive(dir.path()).unwrap();
        assert_eq!(archive.len() % 4, 0);
        let text = String::from_utf8_lossy(&archive);
        let names: Vec<&str> = [
            "lava-1\0",
            "lava-1/bin\0",
            "lava-1/bin/run\0",
            "TRAILER!!!\0",
        ]
        .into_iter()
        .collect();
        let mut at = 0;
        for name in names {
            let found = text[at..].find(name).unwrap_or_else(|| panic!("{name}"));
            at += found + name.len();
        }
        assert!(text.contains("#!/bin/sh\n"));
        assert!(archive.starts_with(b"070701"));
    }

    #[test]
    fn persistent_nfs_addresses_are_server_colon_path() {
        let parse = |text: &str| {
            let value = yaml::load(text).unwrap();
            let block = Block {
                mapping: value.as_mapping().unwrap().clone(),
                ..Block::finalize()
            };
            persistent_nfs(&block)
        };
        assert_eq!(parse("{to: tftp}"), Ok(None));
        assert_eq!(
            parse("{to: tftp, persistent_nfs: {address: 'nfs.lab:/srv/rootfs'}}"),
            Ok(Some(("nfs.lab".into(), "/srv/rootfs".into())))
        );
        for bad in ["'/srv/rootfs'", "'nfs.lab:srv'", "':/srv'", "'a:/b:/c'"] {
            let e =
                parse(&format!("{{to: tftp, persistent_nfs: {{address: {bad}}}}}")).unwrap_err();
            assert!(e.starts_with("Unrecognised NFS URL"), "{bad}: {e}");
        }
        assert_eq!(
            parse("{to: tftp, persistent_nfs: {install_overlay: false}}"),
            Err("Missing address for persistent NFS".into())
        );
    }

    #[test]
    fn the_tftp_server_is_looked_for_unless_external() {
        let external = yaml::load("{tftp_server: external}").unwrap();
        assert_eq!(tftp_server(external.as_mapping().unwrap()).unwrap(), None);
        let sh = yaml::load("{tftp_server: sh}").unwrap();
        assert!(tftp_server(sh.as_mapping().unwrap())
            .unwrap()
            .unwrap()
            .ends_with("sh"));
        let missing = yaml::load("{tftp_server: no-such-tftpd}").unwrap();
        let e = tftp_server(missing.as_mapping().unwrap()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Infrastructure);
        assert!(e.message.contains("'no-such-tftpd' is not on $PATH"), "{e}");
        assert!(e.message.contains("tftp_server"), "{e}");
    }

    #[test]
    fn the_tftp_root_comes_from_the_dispatcher_then_tftpd_hpa() {
        let empty = Mapping::new();
        let defaults = "# /etc/default/tftpd-hpa\nTFTP_USERNAME=\"tftp\"\nTFTP_DIRECTORY=\"/srv/tftp\"\nTFTP_ADDRESS=\":69\"\n";
        assert_eq!(
            tftp_root(&empty, Some(defaults)).unwrap(),
            PathBuf::from("/srv/tftp")
        );
        let configured = yaml::load("{tftp_root: /var/lib/lava/dispatcher/tmp}").unwrap();
        assert_eq!(
            tftp_root(configured.as_mapping().unwrap(), Some(defaults)).unwrap(),
            PathBuf::from("/var/lib/lava/dispatcher/tmp")
        );
        let e = tftp_root(&empty, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Infrastructure);
        assert!(tftp_root(&empty, Some("TFTP_ADDRESS=\":69\"\n")).is_err());
    }
}
