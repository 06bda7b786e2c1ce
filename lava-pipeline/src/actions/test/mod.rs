//! Test actions (docs/pipeline.md §11): `lava-test-shell` (definitions run by
//! the overlay's `lava-test-runner`, results from signals) and
//! `lava-test-interactive` (scripted dialogues with a console).

pub mod interactive;
pub mod shell;
pub mod signals;

use std::sync::Arc;

use lava_devices::DeviceConfig;

use crate::action::{Action, Block};
use crate::error::Error;
use crate::job::JobInfo;
use crate::strategy::{Family, Registry, Strategy, TestNeeds};

/// Register the test strategies.
pub fn register(registry: &mut Registry) {
    registry.register(TestShellStrategy);
    registry.register(InteractiveStrategy);
}

/// `test: {definitions: ...}`.
#[derive(Debug, Default)]
pub struct TestShellStrategy;

impl Strategy for TestShellStrategy {
    fn name(&self) -> &str {
        "lava-test-shell"
    }
    fn family(&self) -> Family {
        Family::Test
    }
    fn handles(&self) -> &'static [&'static str] {
        &["definitions"]
    }
    fn priority(&self) -> i32 {
        1
    }
    fn accepts(&self, _device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Test.require(block, "definitions")
    }
    fn action(&self, job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        if job.multinode().is_some() {
            // LAVA's multinode-test (docs/pipeline.md §12.4)
            return Ok(Box::new(shell::LavaTestShell::multinode()));
        }
        Ok(Box::new(shell::LavaTestRetry))
    }
    fn needs(&self) -> TestNeeds {
        TestNeeds {
            deployment_data: true,
            overlay: true,
            shell: true,
        }
    }
}

/// `test: {interactive: ...}`.
#[derive(Debug, Default)]
pub struct InteractiveStrategy;

impl Strategy for InteractiveStrategy {
    fn name(&self) -> &str {
        "lava-test-interactive"
    }
    fn family(&self) -> Family {
        Family::Test
    }
    fn handles(&self) -> &'static [&'static str] {
        &["interactive"]
    }
    fn priority(&self) -> i32 {
        1
    }
    fn accepts(&self, _device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Test.require(block, "interactive")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(interactive::InteractiveRetry))
    }
}
