//! The two libzmq calls the `zmq` crate does not wrap. This is the only
//! `unsafe` code of the crate.

use std::ffi::{c_char, c_int, c_void, CStr};

extern "C" {
    // Part of libzmq's public API (zmq.h) since 4.2.1; linked statically
    // through zmq-sys.
    fn zmq_curve_public(z85_public_key: *mut c_char, z85_secret_key: *const c_char) -> c_int;
}

/// Derive a CURVE public key from a secret key (libzmq `zmq_curve_public`).
pub(crate) fn curve_public(secret: &[u8; 32]) -> Result<[u8; 32], zmq::Error> {
    let secret_z85 = zmq::z85_encode(secret).expect("32 bytes is a multiple of 4");
    let mut secret_c = secret_z85.into_bytes();
    secret_c.push(0);
    let mut public_c = [0u8; 41];
    // SAFETY: both buffers are 41 bytes (40 Z85 characters + NUL) as the
    // function requires; the secret is NUL-terminated.
    let rc = unsafe {
        zmq_curve_public(
            public_c.as_mut_ptr().cast::<c_char>(),
            secret_c.as_ptr().cast::<c_char>(),
        )
    };
    if rc != 0 {
        return Err(last_error());
    }
    let text = CStr::from_bytes_until_nul(&public_c)
        .ok()
        .and_then(|c| c.to_str().ok())
        .ok_or(zmq::Error::EINVAL)?;
    zmq::z85_decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(zmq::Error::EINVAL)
}

/// Set `ZMQ_CONNECT_ROUTING_ID` (libzmq 4.3; `ZMQ_CONNECT_RID` in 4.2) for
/// the next `connect()` of `socket`.
pub(crate) fn set_connect_routing_id(socket: &mut zmq::Socket, id: &[u8]) -> zmq::Result<()> {
    // SAFETY: the socket pointer is valid for the lifetime of `socket`, and
    // libzmq copies `id` (pointer + length) before returning.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            zmq_sys::ZMQ_CONNECT_ROUTING_ID as c_int,
            id.as_ptr().cast::<c_void>(),
            id.len(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_error())
    }
}

fn last_error() -> zmq::Error {
    // SAFETY: zmq_errno only reads the calling thread's errno.
    zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
}
