//! `lava-server manage templates ...`: render device dictionaries and
//! device-type templates as the master does.
//!
//! - `render [--path DIR]... NAME.jinja2 [--context FILE.yaml]` writes the
//!   rendered text to stdout exactly (no newline added).
//! - `check [--path DIR]... NAME.jinja2 [--context FILE.yaml]` renders and
//!   checks the result as a device configuration (LAVA's device schema).
//!
//! Without `--path` the search path is LAVA's:
//! `/etc/lava-server/dispatcher-config/devices`, then
//! `/etc/lava-server/dispatcher-config/device-types`, then
//! `/usr/share/lava-server/device-types`.

use std::io::Write;
use std::path::{Path, PathBuf};

use lava_devices::{DeviceConfig, TemplateSet};
use lava_proto::yaml::{self, Limits, Mapping, Value};

use crate::output::{io_error, Result};

/// LAVA's folders, searched when no `--path` is given.
const DEFAULT_SEARCH_PATH: [&str; 3] = [
    "/etc/lava-server/dispatcher-config/devices",
    "/etc/lava-server/dispatcher-config/device-types",
    "/usr/share/lava-server/device-types",
];

/// The commands of this group.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Render a device dictionary or device-type template and print the
    /// text exactly as rendered (the device configuration).
    Render(RenderArgs),
    /// Render and check the result as a device configuration.
    Check(RenderArgs),
}

#[derive(clap::Args)]
pub struct RenderArgs {
    /// A folder to search for templates; repeat it to search several, in
    /// order (device dictionaries first, then device types). Default:
    /// LAVA's folders under /etc/lava-server/dispatcher-config and
    /// /usr/share/lava-server.
    #[arg(long = "path", value_name = "DIR")]
    paths: Vec<PathBuf>,
    /// The template to render, e.g. `staging-bbb-01.jinja2` (a device) or
    /// `beaglebone-black.jinja2` (a bare device type).
    #[arg(value_name = "NAME.jinja2")]
    name: String,
    /// A YAML mapping of variables, as in a job's `context:` block.
    #[arg(long, value_name = "FILE.yaml")]
    context: Option<PathBuf>,
}

/// Run a `templates` command.
pub fn run(command: Command) -> Result {
    match command {
        Command::Render(args) => render_to_stdout(&args),
        Command::Check(args) => check(&args),
    }
}

fn render_to_stdout(args: &RenderArgs) -> Result {
    let text = render(args)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(io_error("cannot write the output"))
}

fn check(args: &RenderArgs) -> Result {
    let text = render(args)?;
    let config = DeviceConfig::from_yaml(&text).map_err(|e| format!("{}: {e}", args.name))?;
    for warning in &config.warnings {
        log::warn!("{}: line {}: {}", args.name, warning.line, warning.message);
    }
    println!("{}: valid device configuration", args.name);
    Ok(())
}

fn render(args: &RenderArgs) -> Result<String> {
    let context = match &args.context {
        Some(path) => load_context(path)?,
        None => Mapping::new(),
    };
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        DEFAULT_SEARCH_PATH.iter().map(PathBuf::from).collect()
    } else {
        args.paths.clone()
    };
    Ok(TemplateSet::new(paths).render(&args.name, &context)?)
}

fn load_context(path: &Path) -> Result<Mapping> {
    let bytes = std::fs::read(path).map_err(io_error(format!("cannot read {}", path.display())))?;
    let document = yaml::load_bytes(&bytes, &Limits::default())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for warning in &document.warnings {
        log::warn!(
            "{}: line {}: {}",
            path.display(),
            warning.line,
            warning.message
        );
    }
    match document.value {
        Value::Mapping(map) => Ok(map),
        Value::Null => Ok(Mapping::new()),
        other => Err(format!(
            "{}: the context must be a mapping of variables, not a {}",
            path.display(),
            other.type_name()
        )
        .into()),
    }
}
