//! Strategies: which action a job block becomes (docs/pipeline.md §3.1).
//!
//! Each `deploy`, `boot` and `test` block is offered to every registered
//! [`Strategy`] of its family. `accepts` is a pure function of the device
//! configuration and the block; among the willing strategies the highest
//! `priority` wins (ties: registration order); when none is willing the
//! job fails with every strategy's reason.
//!
//! A [`Registry`] starts with the built-in strategies
//! ([`Registry::with_builtins`]) and takes more from anyone
//! ([`Registry::register`]): a lab adds its own deploy or boot method
//! without touching this crate.
//!
//! ```
//! use std::sync::Arc;
//! use lava_devices::DeviceConfig;
//! use lava_pipeline::{Action, Block};
//! use lava_pipeline::Error;
//! use lava_pipeline::JobInfo;
//! use lava_pipeline::{Family, Registry, Strategy};
//!
//! struct Flash;
//! impl Strategy for Flash {
//!     fn name(&self) -> &str { "my-flasher" }
//!     fn family(&self) -> Family { Family::Deploy }
//!     fn accepts(&self, _device: &DeviceConfig, block: &Block) -> Result<(), String> {
//!         match block.get_str("to") {
//!             Some("my-flasher") => Ok(()),
//!             _ => Err("'to' is not my-flasher".into()),
//!         }
//!     }
//!     fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
//!         unimplemented!("see examples/custom-strategy.rs")
//!     }
//! }
//!
//! let mut registry = Registry::with_builtins();
//! registry.register(Flash);
//! assert!(registry.strategies(Family::Deploy).any(|s| s.name() == "my-flasher"));
//! ```

use std::sync::Arc;

use lava_devices::DeviceConfig;

use crate::action::{Action, Block};
use crate::error::Error;
use crate::job::JobInfo;

/// The three strategy families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `deploy:` blocks.
    Deploy,
    /// `boot:` blocks.
    Boot,
    /// `test:` blocks.
    Test,
}

impl Family {
    /// The first check of most strategies: the block is of `value`.
    /// Deploy blocks name it in `to:`, boot blocks in `method:`; a test
    /// block has it as a key (`definitions`, `interactive`).
    ///
    /// The reason given otherwise is LAVA's wording.
    pub fn require(self, block: &Block, value: &str) -> Result<(), String> {
        let (key, given) = match self {
            Family::Deploy => ("to", block.get_str("to")),
            Family::Boot => ("method", block.get_str("method")),
            Family::Test => {
                return match block.get(value) {
                    Some(_) => Ok(()),
                    None => Err(format!("no '{value}' in the test block")),
                };
            }
        };
        match given {
            Some(given) if given == value => Ok(()),
            _ => Err(format!("'{key}' was not '{value}'")),
        }
    }

    /// That the device configuration lists `method` among its deploy or
    /// boot methods (a test block needs none: always `Ok`).
    pub fn require_device(self, device: &DeviceConfig, method: &str) -> Result<(), String> {
        let listed = match self {
            Family::Deploy => device.has_deploy_method(method),
            Family::Boot => device.boot_method(method).is_some(),
            Family::Test => true,
        };
        if listed {
            Ok(())
        } else {
            Err(format!(
                "'{method}' not in the device configuration {} methods",
                self.key()
            ))
        }
    }

    fn key(self) -> &'static str {
        match self {
            Family::Deploy => "deploy",
            Family::Boot => "boot",
            Family::Test => "test",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Family::Deploy => "deployment",
            Family::Boot => "boot",
            Family::Test => "test",
        }
    }
}

/// What a test strategy needs from the deploy and boot blocks of its
/// namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestNeeds {
    /// The OS deployment data (deploy blocks get `deployment_data`).
    pub deployment_data: bool,
    /// The test overlay (`lava-overlay` is added to deploys).
    pub overlay: bool,
    /// A shell (boots add `expect-shell-connection`, `export-device-env`).
    pub shell: bool,
}

/// Turns one kind of job block into its top action.
pub trait Strategy: Send + Sync {
    /// A name for messages (`tmpfs`, `qemu`, `lava-test-shell`...).
    fn name(&self) -> &str;
    /// The family.
    fn family(&self) -> Family;
    /// Higher wins among willing strategies (default 0; tests use 1).
    fn priority(&self) -> i32 {
        0
    }
    /// LAVA's compatibility level of this strategy (docs/pipeline.md §3.8).
    fn compatibility(&self) -> u32 {
        1
    }
    /// The values of the block's key this strategy is for: `to:` values
    /// for a deploy, `method:` values for a boot, the key itself for a
    /// test (`definitions`). When no strategy accepts a block whose value
    /// none of them lists, the job is refused naming the value and every
    /// listed one. Empty (the default) says nothing: the refusal then
    /// lists each strategy's reason instead.
    fn handles(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether this strategy handles `block` on `device`, or why not.
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String>;
    /// The top action for the block (its children are added by the
    /// action's `populate`).
    fn action(&self, job: &JobInfo, block: &Arc<Block>) -> Result<Box<dyn Action>, Error>;
    /// Test strategies: what they need from deploys and boots.
    fn needs(&self) -> TestNeeds {
        TestNeeds::default()
    }
}

/// The registered strategies.
#[derive(Clone, Default)]
pub struct Registry {
    strategies: Vec<Arc<dyn Strategy>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.strategies.iter().map(|s| s.name().to_string()))
            .finish()
    }
}

impl Registry {
    /// No strategies.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The built-in strategies:
    ///
    /// | family | strategy | block | top action |
    /// |---|---|---|---|
    /// | deploy | `tmpfs` | `to: tmpfs` | `deployimages` |
    /// | deploy | `download` | `to: download` | `download-deploy` |
    /// | deploy | `overlay` | `to: overlay` | `lava-overlay` |
    /// | deploy | `tftp` | `to: tftp` | `tftp-deploy` |
    /// | deploy | `ssh` | `to: ssh` | `scp-overlay` |
    /// | boot | `minimal` | `method: minimal` | `minimal-boot` |
    /// | boot | `qemu` | `method: qemu` (`qemu-nfs`, `monitor`) | `boot-image-retry` |
    /// | boot | `u-boot` | `method: u-boot` | `uboot-action` |
    /// | boot | `ipxe` | `method: ipxe` | `bootloader-action` |
    /// | boot | `grub` | `method: grub` (`grub-efi`) | `grub-main-action` |
    /// | boot | `ssh` | `method: ssh` | `login-ssh` |
    /// | test | `lava-test-shell` | `definitions:` | `lava-test-retry` |
    /// | test | `interactive` | `interactive:` | `lava-test-interactive-retry` |
    pub fn with_builtins() -> Self {
        let mut registry = Registry::new();
        crate::actions::register_builtins(&mut registry);
        registry
    }

    /// Add a strategy (after the ones already registered).
    pub fn register(&mut self, strategy: impl Strategy + 'static) {
        self.strategies.push(Arc::new(strategy));
    }

    /// The strategies of one family, in registration order.
    pub fn strategies(&self, family: Family) -> impl Iterator<Item = &Arc<dyn Strategy>> {
        self.strategies.iter().filter(move |s| s.family() == family)
    }

    /// Every value the strategies of `family` list in
    /// [`Strategy::handles`], sorted; `None` when one of them lists none
    /// (the list would not be complete).
    pub fn supported(&self, family: Family) -> Option<Vec<&'static str>> {
        let mut all = Vec::new();
        for strategy in self.strategies(family) {
            let handles = strategy.handles();
            if handles.is_empty() {
                return None;
            }
            all.extend_from_slice(handles);
        }
        all.sort_unstable();
        all.dedup();
        Some(all)
    }

    /// The refusal of a block that no strategy of `family` is for at all:
    /// its value is outside [`Registry::supported`].
    fn unsupported(&self, family: Family, block: &Block) -> Option<Error> {
        let supported = self.supported(family)?;
        let (given, implemented) = match family {
            Family::Deploy | Family::Boot => {
                let (key, what) = if family == Family::Deploy {
                    ("to", "deploy to")
                } else {
                    ("method", "boot method")
                };
                let value = block.get_str(key)?;
                if supported.contains(&value) {
                    return None;
                }
                (format!("{what} '{value}'"), supported.join(", "))
            }
            Family::Test => {
                if supported.iter().any(|key| block.get(key).is_some()) {
                    return None;
                }
                (
                    "test action".to_string(),
                    format!("test actions with {}", supported.join(", ")),
                )
            }
        };
        Some(Error::job(format!(
            "Unsupported {given}: this dispatcher implements {implemented}"
        )))
    }

    /// The strategy for `block`: the willing one with the highest
    /// priority, or a `Job` error: the block's method (or `to:`) named
    /// with the supported ones when no strategy is for it, else every
    /// strategy's refusal.
    pub fn select(
        &self,
        family: Family,
        device: &DeviceConfig,
        block: &Block,
    ) -> Result<Arc<dyn Strategy>, Error> {
        match family {
            Family::Deploy => {
                if block.get("to").is_none() {
                    return Err(Error::job("Deploy action must have a 'to' parameter"));
                }
                if device
                    .actions
                    .as_ref()
                    .is_none_or(|a| a.deploy_methods.is_empty())
                {
                    return Err(Error::configuration(
                        "Device misconfiguration: actions.deploy.methods is missing",
                    ));
                }
            }
            Family::Boot => {
                if block.get("method").is_none() {
                    return Err(Error::job("Boot action must have a 'method' parameter"));
                }
                if device
                    .actions
                    .as_ref()
                    .is_none_or(|a| a.boot_methods.is_empty())
                {
                    return Err(Error::configuration(
                        "Device misconfiguration: actions.boot.methods is missing",
                    ));
                }
            }
            Family::Test => {}
        }
        let mut best: Option<&Arc<dyn Strategy>> = None;
        let mut reasons = Vec::new();
        for strategy in self.strategies(family) {
            match strategy.accepts(device, block) {
                Ok(()) => {
                    if best.is_none_or(|b| strategy.priority() > b.priority()) {
                        best = Some(strategy);
                    }
                }
                Err(reason) => reasons.push(format!("{}: {reason}", strategy.name())),
            }
        }
        if let Some(best) = best {
            return Ok(best.clone());
        }
        if let Some(refusal) = self.unsupported(family, block) {
            return Err(refusal);
        }
        Err(Error::job(format!(
            "None of the {} strategies accepted your {} parameters, reasons given: {}",
            family.noun(),
            family.noun(),
            reasons.join("; ")
        )))
    }
}
