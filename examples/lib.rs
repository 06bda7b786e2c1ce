//! Runnable examples of the LAVA in Rust crates; see the `[[example]]`
//! entries of this package (`cargo run -p lava-examples --example NAME`).
//!
//! The library holds what more than one example uses: [`local_shell`], a
//! boot method written outside `lava-pipeline`.

pub mod local_shell;
