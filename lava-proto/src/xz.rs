//! xz compression of the `description.yaml` carried by END (and of the
//! job journal of this project's LOG_SYNC_DATA).
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

/// Largest decompressed journal accepted in LOG_SYNC_DATA (1 GiB).
pub const MAX_JOURNAL: u64 = 1024 * 1024 * 1024;

/// Compress quickly (preset 1, CRC64): for job journals, which can be
/// large and are compressed while the worker has other things to do.
pub fn compress_fast(data: &[u8]) -> Vec<u8> {
    let stream =
        Stream::new_easy_encoder(1, Check::Crc64).expect("liblzma accepts preset 1 with CRC64");
    let mut out = Vec::with_capacity(data.len() / 8 + 64);
    liblzma::read::XzEncoder::new_stream(data, stream)
        .read_to_end(&mut out)
        .expect("compressing from memory cannot fail");
    out
}

/// Decompress an `.xz` or `.lzma` stream, refusing corrupt or truncated data
/// and output larger than [`MAX_DECOMPRESSED`].
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, ProtoError> {
    decompress_up_to(data, MAX_DECOMPRESSED).map_err(|reason| ProtoError::Description { reason })
}

/// Decompress a job journal (LOG_SYNC_DATA), up to [`MAX_JOURNAL`] bytes.
pub fn decompress_journal(data: &[u8]) -> Result<Vec<u8>, ProtoError> {
    decompress_up_to(data, MAX_JOURNAL).map_err(|reason| ProtoError::Journal { reason })
}

fn decompress_up_to(data: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let stream = Stream::new_auto_decoder(DECODER_MEMORY, CONCATENATED)
        .map_err(|e| format!("cannot start the xz decoder: {e}"))?;
    let mut out = Vec::new();
    liblzma::read::XzDecoder::new_stream(data, stream)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a valid xz stream ({} bytes): {e}", data.len()))?;
    if out.len() as u64 > limit {
        return Err(format!("decompresses to more than {limit} bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_compresses_to_the_32_byte_stream_lava_sends() {
        // docs/protocol.md §8.4: an empty description.yaml still gives 32 bytes.
        assert_eq!(compress(b"").len(), 32);
        assert_eq!(decompress(&compress(b"")).unwrap(), b"");
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn output_is_byte_identical_to_python_lzma_compress() {
        // Reference bytes from CPython 3.11 `lzma.compress(data).hex()`.
        assert_eq!(
            hex(&compress(b"")),
            "fd377a585a000004e6d6b446000000001cdf44211fb6f37d010000000004595a"
        );
        assert_eq!(
            hex(&compress(b"job: done\n")),
            "fd377a585a000004e6d6b4460200210116000000742fe5a30100096a6f623a20646f6e650a00000054c4d0a9\
             9523af660001220a151ae1671fb6f37d010000000004595a"
        );
        let repeated = b"compatibility: 6\njob:\n  result: pass\n".repeat(20);
        assert_eq!(
            hex(&compress(&repeated)),
            "fd377a585a000004e6d6b4460200210116000000742fe5a3e002e3002f5d00319bc9f3f5c61ae110515eb5a1\
             a8b59ae0b8d96615a32f3e17025f1354b0bf61482a606393f5b8644a9d9e6538a00000006cf798f90db045\
             5700014be4050000005fbf404cb1c467fb020000000004595a"
        );
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
