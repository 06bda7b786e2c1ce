//! Deploy actions (docs/pipeline.md §9): `to: tmpfs` (QEMU images), `to:
//! download`, `to: overlay`, `to: tftp` ([`tftp`]) and `to: nfs` ([`nfs`]), with the download machinery
//! ([`download`]), the test overlay ([`overlay`]) and its helper scripts
//! ([`helpers`], and [`multinode`] for MultiNode sub-jobs).
//!
//! ```text
//! deployimages                 (to: tmpfs)
//! ├─ download-retry → http-download | file-download    one per image, in job order
//! ├─ lava-overlay              if a test of the namespace needs it
//! ├─ apply-overlay-guest       idem
//! └─ deploy-device-env         if a test needs deployment data
//! ```

pub mod download;
pub mod helpers;
pub mod multinode;
pub mod nfs;
pub mod overlay;
pub mod tftp;

use std::sync::Arc;

use lava_devices::DeviceConfig;
use lava_proto::yaml::Value;

use crate::action::{About, Action, Block, Populate, RunContext, Validate};
use crate::error::Error;
use crate::job::{scalar, JobInfo};
use crate::strategy::{Family, Registry, Strategy};

use download::{DownloadRetry, DownloadSpec};
use overlay::{ApplyOverlayGuest, DeployDeviceEnv, LavaOverlay};

/// Register the deploy strategies.
pub fn register(registry: &mut Registry) {
    registry.register(TmpfsStrategy);
    registry.register(DownloadStrategy);
    registry.register(OverlayStrategy);
    registry.register(tftp::TftpStrategy);
    registry.register(nfs::NfsStrategy);
    registry.register(nfs::QemuNfsStrategy);
}

fn images(block: &Block) -> Vec<(String, Value)> {
    block
        .get("images")
        .and_then(Value::as_mapping)
        .map(|m| m.iter().map(|(k, v)| (scalar(k), v.clone())).collect())
        .unwrap_or_default()
}

/// `to: tmpfs` on a device with the `image` deploy method.
#[derive(Debug, Default)]
pub struct TmpfsStrategy;

impl Strategy for TmpfsStrategy {
    fn name(&self) -> &str {
        "images"
    }
    fn family(&self) -> Family {
        Family::Deploy
    }
    fn handles(&self) -> &'static [&'static str] {
        &["tmpfs"]
    }
    fn compatibility(&self) -> u32 {
        4
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Deploy.require(block, "tmpfs")?;
        Family::Deploy.require_device(device, "image")?;
        if block.get("images").is_none() {
            return Err("'images' not in the deploy parameters".into());
        }
        match block.get_str("type") {
            None | Some("monitor") => Ok(()),
            Some(_) => Err("'type' is not 'monitor'".into()),
        }
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(DeployImages::new(ABOUT_DEPLOYIMAGES)))
    }
}

/// `to: download`.
#[derive(Debug, Default)]
pub struct DownloadStrategy;

impl Strategy for DownloadStrategy {
    fn name(&self) -> &str {
        "download"
    }
    fn family(&self) -> Family {
        Family::Deploy
    }
    fn handles(&self) -> &'static [&'static str] {
        &["download"]
    }
    fn accepts(&self, _device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Deploy.require(block, "download")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(DeployImages::new(ABOUT_DOWNLOAD_DEPLOY)))
    }
}

/// `to: overlay`: only the test overlay (the device's image is deployed
/// otherwise; the boot's `transfer_overlay` brings it over).
#[derive(Debug, Default)]
pub struct OverlayStrategy;

impl Strategy for OverlayStrategy {
    fn name(&self) -> &str {
        "overlay"
    }
    fn family(&self) -> Family {
        Family::Deploy
    }
    fn handles(&self) -> &'static [&'static str] {
        &["overlay"]
    }
    fn compatibility(&self) -> u32 {
        4
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Deploy.require(block, "overlay")?;
        Family::Deploy.require_device(device, "overlay")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(LavaOverlay::default()))
    }
}

/// `deployimages` (`to: tmpfs`) and `download-deploy` (`to: download`).
#[derive(Debug)]
pub struct DeployImages {
    about: About,
    labels: Vec<String>,
}

const ABOUT_DEPLOYIMAGES: About = About::new(
    "deployimages",
    "deploy images using guestfs",
    "deploy images",
);
const ABOUT_DOWNLOAD_DEPLOY: About = About::new(
    "download-deploy",
    "download files and copy to LXC if available",
    "download deployment",
);

impl DeployImages {
    fn new(about: About) -> Self {
        DeployImages {
            about,
            labels: Vec::new(),
        }
    }
}

impl Action for DeployImages {
    fn about(&self) -> About {
        self.about
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        let mut entries = images(p.block);
        if self.about == ABOUT_DOWNLOAD_DEPLOY {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
        }
        for (label, entry) in entries {
            let spec =
                DownloadSpec::from_entry(&label, &entry, &p.job.dispatcher, self.about.name)?;
            self.labels.push(label);
            p.add(DownloadRetry::new(spec));
        }
        let ns = p.block.namespace.clone();
        if p.job.needs_overlay(&ns) {
            p.add(LavaOverlay::default());
            if self.about == ABOUT_DEPLOYIMAGES {
                p.add(ApplyOverlayGuest::default());
            }
        }
        if p.job.needs_deployment_data(&ns) {
            p.add(DeployDeviceEnv);
        }
        Ok(())
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        if self.labels.is_empty() {
            v.error("No images to deploy");
        }
        let labels: Vec<Value> = self
            .labels
            .iter()
            .map(|l| Value::from(l.as_str()))
            .collect();
        v.set("deployimages", "images", "labels", Value::Sequence(labels));
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        download::publish_dir(ctx, self.about.name)?;
        ctx.run_children()
    }
}
