//! Forwards the location of the libsodium that `libsodium-sys-stable` built
//! to this crate's code, which hands it to libzmq's build.

fn main() {
    for (from, to) in [
        ("DEP_SODIUM_LIB", "LAVA_SODIUM_LIB_DIR"),
        ("DEP_SODIUM_INCLUDE", "LAVA_SODIUM_INCLUDE_DIR"),
    ] {
        println!("cargo:rerun-if-env-changed={from}");
        match std::env::var(from) {
            Ok(value) => println!("cargo:rustc-env={to}={value}"),
            Err(_) => panic!(
                "{from} is not set: libsodium-sys-stable did not export its build \
                 location, so libzmq cannot be built with CURVE"
            ),
        }
    }
}
