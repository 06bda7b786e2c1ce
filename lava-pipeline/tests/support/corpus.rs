//! LAVA's device types from the corpus (GPL data, read where it lies,
//! never copied): `$LAVA_CORPUS_DIR`, else `../shared/lava-corpus` beside
//! the workspace. Shared by the test crates with `#[path]`.

use std::path::{Path, PathBuf};

/// The corpus's `device-types` folder if it holds `template`, else `None`
/// (said on stderr, and the test skips).
pub fn device_types(template: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("LAVA_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"));
    let types = dir.join("device-types");
    if types.join(template).exists() {
        Some(types)
    } else {
        eprintln!("skipping: LAVA's corpus is not at {}", dir.display());
        None
    }
}
