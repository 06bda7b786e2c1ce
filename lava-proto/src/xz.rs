//! xz compression of the `description.yaml` carried by END.
//!
//! LAVA's worker compresses with Python's `lzma.compress` defaults: the `.xz`
//! container, preset 6, CRC64 check. [`compress`] produces the same stream
//! (it is the same liblzma). [`decompress`] accepts `.xz` (also
//! concatenated streams) and legacy `.lzma`, like Python's auto-detecting
//! decompressor, and bounds the output so that a hostile peer cannot make
//! the master allocate without limit.
//!
//! ```
//! let packed = lava_proto::xz::compress(b"job: done\n");
//! assert_eq!(&packed[..6], b"\xfd7zXZ\0");
//! assert_eq!(lava_proto::xz::decompress(&packed).unwrap(), b"job: done\n");
//! assert!(lava_proto::xz::decompress(&packed[..packed.len() - 4]).is_err());
//! ```

use std::io::Read;

use liblzma::stream::{Check, Stream, CONCATENATED};

use crate::error::ProtoError;

/// Largest decompressed description accepted (64 MiB). Real descriptions
/// are a few hundred kilobytes.
pub const MAX_DECOMPRESSED: u64 = 64 * 1024 * 1024;

/// Memory the decoder may use (liblzma's own limit).
const DECODER_MEMORY: u64 = 256 * 1024 * 1024;

/// Compress with xz preset 6 and a CRC64 check.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let stream =
        Stream::new_easy_encoder(6, Check::Crc64).expect("liblzma accepts preset 6 with CRC64");
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    liblzma::read::XzEncoder::new_stream(data, stream)
        .read_to_end(&mut out)
        .expect("compressing from memory cannot fail");
    out
}

/// Decompress an `.xz` or `.lzma` stream, refusing corrupt or truncated data
/// and output larger than [`MAX_DECOMPRESSED`].
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, ProtoError> {
    let stream = Stream::new_auto_decoder(DECODER_MEMORY, CONCATENATED).map_err(|e| {
        ProtoError::Description {
            reason: format!("cannot start the xz decoder: {e}"),
        }
    })?;
    let mut out = Vec::new();
    liblzma::read::XzDecoder::new_stream(data, stream)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| ProtoError::Description {
            reason: format!("not a valid xz stream ({} bytes): {e}", data.len()),
        })?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(ProtoError::Description {
            reason: format!("decompresses to more than {MAX_DECOMPRESSED} bytes"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_compresses_to_the_32_byte_stream_lava_sends() {
        // protocol.md §8.4: an empty description.yaml still gives 32 bytes.
        assert_eq!(compress(b"").len(), 32);
        assert_eq!(decompress(&compress(b"")).unwrap(), b"");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let packed = compress(b"description: {job: 1}\n");
        for cut in 0..packed.len() {
            assert!(decompress(&packed[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decompress(b"not xz at all").is_err());
    }
}
