//! `lava-server manage device-tags create|list|add|remove|show`.

use clap::Subcommand;

use crate::output::{Db, Result};

/// The commands of this group.
#[derive(Subcommand)]
pub enum Command {
    /// Create a tag.
    Create {
        /// The tag.
        name: String,
        /// What it means.
        #[arg(default_value = "")]
        description: String,
    },
    /// List tags.
    List,
    /// Attach tags to a device (the tags must exist).
    Add {
        /// The device.
        hostname: String,
        /// The tags.
        #[arg(long, required = true, num_args = 1..)]
        tags: Vec<String>,
    },
    /// Detach tags from a device.
    Remove {
        /// The device.
        hostname: String,
        /// The tags.
        #[arg(long, required = true, num_args = 1..)]
        tags: Vec<String>,
    },
    /// Show a device's tags.
    Show {
        /// The device.
        hostname: String,
    },
}

/// Run a `device-tags` command.
pub fn run(command: Command, db: &Db) -> Result {
    let store = db.open()?;
    match command {
        Command::Create { name, description } => {
            store.add_tag(&name, &description)?;
            println!("Tag {name} created");
        }
        Command::List => {
            for t in store.tags()? {
                println!("* {} ({})", t.name, t.description);
            }
        }
        Command::Add { hostname, tags } => store.add_device_tags(&hostname, &tags)?,
        Command::Remove { hostname, tags } => store.remove_device_tags(&hostname, &tags)?,
        Command::Show { hostname } => {
            for t in store.device(&hostname)?.tags {
                println!("* {t}");
            }
        }
    }
    Ok(())
}
