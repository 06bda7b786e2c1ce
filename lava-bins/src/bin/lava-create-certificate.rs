//! `lava-create-certificate NAME [--directory DIR] [--force]`: write a CURVE
//! key pair as `DIR/NAME.key` (public) and `DIR/NAME.key_secret` (secret,
//! mode 0600) in the format LAVA's daemons and pyzmq read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lava_proto::cert::{self, KeyPair};

/// Create a CURVE certificate (key pair) for a LAVA master or worker.
#[derive(Parser)]
#[command(name = "lava-create-certificate", version)]
struct Args {
    /// Name of the certificate: NAME.key and NAME.key_secret are written.
    name: String,
    /// Directory to write the files into.
    #[arg(
        long,
        short = 'd',
        default_value = "/etc/lava-dispatcher/certificates.d"
    )]
    directory: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

fn main() -> ExitCode {
    lava_bins::init_logging("info");
    let args = Args::parse();
    let program = "lava-create-certificate";
    let pair = match KeyPair::generate() {
        Ok(pair) => pair,
        Err(e) => return lava_bins::fail(program, e),
    };
    match cert::write_pair(&args.directory, &args.name, &pair, args.force) {
        Ok((public, secret)) => {
            println!("Public certificate: {}", public.display());
            println!("Secret certificate: {}", secret.display());
            log::info!(
                "created certificate {} (public key {})",
                args.name,
                pair.public
            );
            ExitCode::SUCCESS
        }
        Err(e) => lava_bins::fail(program, e),
    }
}
