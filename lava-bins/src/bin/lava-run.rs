//! `lava-run`: runs one job's pipeline on the worker (being written).

fn main() -> std::process::ExitCode {
    lava_bins::fail("lava-run", "the dispatcher pipeline is not available yet")
}
