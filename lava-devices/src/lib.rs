//! Device types and device dictionaries: the knowledge of what a board is and
//! how to drive it.
//!
//! A LAVA lab describes each board by a **device dictionary** (a few
//! `{% set key = value %}` lines that `{% extends %}` a **device-type
//! template**). Rendering the pair with Jinja2 semantics gives the **device
//! configuration**: the YAML that tells the dispatcher which shell commands
//! connect to the serial console, power the board on and off, and which
//! deploy and boot methods the board supports.
//!
//! This crate is a skeleton today. It will render LAVA's own templates
//! byte-for-byte with minijinja, round-trip device dictionaries, and expose
//! a typed device configuration; see `ARCHITECTURE.md`.
//!
//! ```
//! // The vocabulary it builds on comes from lava-proto.
//! let config = lava_proto::yaml::load("commands: {power_on: pdu on 3}").unwrap();
//! assert_eq!(config.get("commands").and_then(|c| c.get("power_on")).and_then(|v| v.as_str()), Some("pdu on 3"));
//! ```

#![warn(missing_docs)]
