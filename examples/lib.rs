//! Runnable examples of the LAVA in Rust crates; see the `[[example]]`
//! entries of this package (`cargo run -p lava-examples --example NAME`).
