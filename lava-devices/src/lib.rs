//! Device types and device dictionaries: the knowledge of what a board is and
//! how to drive it.
//!
//! A LAVA lab describes each board by a **device dictionary**: a few
//! `{% set key = value %}` lines that `{% extends %}` a **device-type
//! template** (`beaglebone-black.jinja2`, which extends `base-uboot.jinja2`,
//! which extends `base.jinja2`). Rendering the pair with Jinja2 gives the
//! **device configuration**: the YAML that tells the dispatcher which shell
//! commands connect to the serial console and power the board, and which
//! deploy and boot methods (with their bootloader command lists) the board
//! supports. A job's `context:` block is passed to the render as top-level
//! variables, so a job can fill in what the dictionary leaves unset.
//!
//! This crate does all three steps exactly as LAVA 2020.01 does, so a lab
//! can point it at `/etc/lava-server/dispatcher-config/` and get the same
//! bytes:
//!
//! - [`TemplateSet`] renders templates from an ordered search path
//!   (dictionaries first, then device types) with minijinja configured as
//!   LAVA's Jinja2 environment, plus the filters of later LAVA releases.
//!   Over LAVA's own corpus (131 dictionaries, 212 bare device types, 19
//!   job contexts) every render is byte-identical to Jinja2's.
//! - [`DeviceDictionary`] parses a dictionary into an ordered map of
//!   variables and writes it back unchanged (or changed where set), so the
//!   master can keep dictionaries as data.
//! - [`DeviceConfig`] loads the rendered YAML with the PyYAML-compatible
//!   loader of `lava-proto` and checks it as LAVA's device schema does,
//!   with a typed view of commands, boot methods and timeouts.
//!
//! ```
//! use lava_devices::{DeviceConfig, DeviceDictionary, TemplateSet};
//! use lava_proto::yaml::Mapping;
//!
//! // A device-type folder with one template (normally LAVA's, or ours in
//! // share/device-types/).
//! let types = tempfile::tempdir().unwrap();
//! std::fs::write(
//!     types.path().join("bench.jinja2"),
//!     "commands:\n  connect: {{ connection_command }}\n  power_on: {{ power_on_command }}\n\
//!      character_delays:\n  boot: {{ boot_character_delay|default(5) }}\n",
//! )
//! .unwrap();
//!
//! // The dictionary, as the master stores it.
//! let mut dictionary = DeviceDictionary::new("bench.jinja2");
//! dictionary.set("connection_command", "telnet 127.0.0.1 5560").unwrap();
//! dictionary.set("power_on_command", "board.sh on").unwrap();
//!
//! // A job's context fills in what the dictionary leaves unset.
//! let context = lava_proto::yaml::load("boot_character_delay: 20").unwrap();
//! let templates = TemplateSet::new([types.path()]);
//! let text = templates
//!     .render_str("bench-01.jinja2", &dictionary.to_text(), context.as_mapping().unwrap())
//!     .unwrap();
//! assert_eq!(
//!     text,
//!     "commands:\n  connect: telnet 127.0.0.1 5560\n  power_on: board.sh on\ncharacter_delays:\n  boot: 20"
//! );
//!
//! let config = DeviceConfig::from_yaml(&text).unwrap();
//! assert_eq!(config.commands.primary_connection(), Some("telnet 127.0.0.1 5560"));
//! assert_eq!(config.character_delays.boot, Some(std::time::Duration::from_millis(20)));
//! ```
//!
//! # Differences from plain minijinja
//!
//! minijinja with `trim_blocks`, no autoescape and `preserve_order` gets
//! most of LAVA's corpus right; Jinja2's behaviour on the rest (and on the
//! behaviour probes of the corpus) comes from:
//!
//! - **Python methods** on values (`d.get('k', x)`, `d.items()`,
//!   `d.keys()`, `s.split(',')`, `s.startswith(...)`, `'{}'.format(x)`,
//!   ...), through minijinja's unknown-method callback;
//! - **no `debug` global** (`{{ debug|default('debug') }}` must see an
//!   undefined name, as four LAVA templates do);
//! - a **formatter** that prints values as Jinja2 does: `Undefined`
//!   inside a printed list or dict, Python's float `repr` (`1e+16`);
//! - Jinja2's **`indent`** (keeps a trailing newline; `width`, `first`,
//!   `blank`) and **`int`** (`'0x10'|int` is 0, `'3.9'|int` is 3) filters;
//! - Jinja2's **lexer normalisation**: line ends `\r\n`, `\r` (and the other
//!   `str.splitlines` boundaries) become `\n` and one final line end is
//!   dropped;
//! - three **source rewrites** for what no setting covers (module
//!   `compat`): a block does not see variables set in an enclosing block
//!   or loop (LAVA's `d03.jinja2` depends on it), `'%s' % x` formats
//!   strings, and `loop.last`/`loop.length` work when looping over a
//!   string. Rewrites never add a line, so error lines are the file's.
//!
//! One Jinja2 2.10 behaviour is not reproduced: it refuses the float
//! literal `1e3` (later Jinja2 versions accept it, as we do).
//!
//! # Safety of template loading
//!
//! Templates are only read from the folders of the search path: absolute
//! names, `..` components and symbolic links that lead outside a folder
//! are refused (Jinja2 would follow them), so neither a dictionary's
//! `{% extends %}`/`{% include %}` nor a job context can read other files.
//! A broken template is an error value naming the file and line, never a
//! panic.

#![warn(missing_docs)]

mod compat;
mod config;
mod context;
mod dictionary;
mod error;
pub mod filters;
mod jinja2;
mod render;
mod search_path;

pub use config::{
    Actions, BootMethod, BootloaderParameters, CharacterDelays, Commands, DeviceConfig,
    LoadAddresses, NamedConnection, Timeout, Timeouts, UserCommand,
};
pub use dictionary::{DeviceDictionary, DictionaryValue, DictionaryWarning};
pub use error::{ConfigError, DeviceError, DictionaryError, RenderError};
pub use render::TemplateSet;
pub use search_path::MAX_TEMPLATE_BYTES;
