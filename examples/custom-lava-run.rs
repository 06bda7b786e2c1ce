//! A lava-run of your own: the whole `main` of a binary that runs jobs
//! with the built-in strategies plus the lab's `local-shell` boot
//! (`examples/local_shell.rs`). Give it to the worker as its lava-run:
//!
//! ```text
//! cargo build -p lava-examples --example custom-lava-run
//! lava-slave --master tcp://master:5556 --socket-addr tcp://master:5555 \
//!     --lava-run target/debug/examples/custom-lava-run
//! ```
//!
//! The worker starts it with lava-run's command line
//! (`lava_pipeline::run::RunOptions`), so it takes every option lava-run
//! takes: `custom-lava-run --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    lava_pipeline::run::main_with(std::env::args_os(), &lava_examples::local_shell::registry())
}
