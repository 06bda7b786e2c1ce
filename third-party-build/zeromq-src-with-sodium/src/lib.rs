//! A stand-in for the `zeromq-src` 0.2 crate that the `zmq` crate's `zmq-sys`
//! uses to build a vendored libzmq.
//!
//! `zmq-sys` asks for libzmq *without* libsodium, which leaves CURVE
//! (encryption and authentication between LAVA masters and workers) switched
//! off. This crate keeps the 0.2 API that `zmq-sys` calls, delegates the build
//! to the real `zeromq-src` 0.3 (libzmq 4.3.5), and always links it against the
//! libsodium that `libsodium-sys-stable` builds from its bundled sources. No
//! system package is needed; only a C/C++ compiler.

pub use upstream::LibLocation;

/// Builder with the same surface as `zeromq_src::Build` 0.2.
#[derive(Debug, Default)]
pub struct Build {
    inner: upstream::Build,
}

impl Build {
    /// A new build with libzmq's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Build libzmq with debug information.
    pub fn build_debug(&mut self, enabled: bool) -> &mut Self {
        self.inner.build_debug(enabled);
        self
    }

    /// Enable libzmq's draft API.
    pub fn enable_draft(&mut self, enabled: bool) -> &mut Self {
        self.inner.enable_draft(enabled);
        self
    }

    /// Accepted for API compatibility and ignored: libsodium is always the one
    /// built by `libsodium-sys-stable`, so CURVE is always available.
    pub fn with_libsodium(&mut self, _ignored: Option<LibLocation>) -> &mut Self {
        self
    }

    /// Compile libzmq with CURVE and emit the link directives.
    pub fn build(&mut self) {
        let sodium = LibLocation::new(
            env!("LAVA_SODIUM_LIB_DIR"),
            env!("LAVA_SODIUM_INCLUDE_DIR"),
        );
        self.inner.with_libsodium(Some(sodium)).build();
    }
}
