//! Record batch compression codecs, all pure Rust.

use crate::config::Compression;

// The codecs themselves. Everything below runs on the batch's records section: the batch
// header stays uncompressed.

use std::io::Read;

use super::lz4::Lz4Compressor;

mod lz4_frame;

/// Why a records section did not compress or decompress.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodecError {
    /// The decompressed data would exceed the caller's limit: a corrupt length or a
    /// decompression bomb, refused before it takes the memory.
    #[error("{codec} data decompresses to more than the {limit} byte limit")]
    TooLarge {
        /// The codec's name.
        codec: &'static str,
        /// The limit that was hit.
        limit: usize,
    },
    /// The codec rejected its input.
    #[error("invalid {codec} data: {reason}")]
    Corrupt {
        /// The codec's name.
        codec: &'static str,
        /// What the codec library said.
        reason: String,
    },
}

impl CodecError {
    fn corrupt(codec: Compression, reason: impl std::fmt::Display) -> Self {
        CodecError::Corrupt {
            codec: codec.name(),
            reason: reason.to_string(),
        }
    }
}

/// The xerial snappy-java stream header: magic, then version 1 and minimum compatible
/// version 1, both big-endian.
const XERIAL_HEADER: [u8; 16] = *b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";

/// snappy-java's default chunk size, which the Java client uses.
const XERIAL_CHUNK: usize = 32 * 1024;

/// The default gzip level, as Java's `Deflater.DEFAULT_COMPRESSION` (and so the Java client).
const GZIP_DEFAULT_LEVEL: u32 = 6;

/// The smallest zstd window we accept whatever `max_size` is: zstd-jni's default streaming
/// frames declare 2 MiB for any input, and levels up to 19 use 8 MiB.
const ZSTD_MIN_WINDOW: usize = 8 << 20;

/// Compresses `input` with `codec`, appending to `out`.
///
/// `level` is honoured by gzip (0 to 9; anything else means the default, 6). kafkit's LZ4
/// compressor and snappy have a single level, and ruzstd implements only its fastest one
/// (about zstd level 1); the producer's config refuses a level for them, so none arrives here.
pub(crate) fn compress(
    codec: Compression,
    level: Option<i32>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    match codec {
        Compression::Uncompressed => out.extend_from_slice(input),
        Compression::Gzip => {
            let level = match level {
                Some(l @ 0..=9) => l as u32,
                _ => GZIP_DEFAULT_LEVEL,
            };
            let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::new(level));
            std::io::Write::write_all(&mut enc, input)
                .map_err(|e| CodecError::corrupt(codec, e))?;
            enc.finish().map_err(|e| CodecError::corrupt(codec, e))?;
        }
        Compression::Snappy => {
            out.extend_from_slice(&XERIAL_HEADER);
            let mut encoder = snap::raw::Encoder::new();
            for chunk in input.chunks(XERIAL_CHUNK) {
                let len_at = out.len();
                out.extend_from_slice(&[0; 4]);
                let start = out.len();
                out.resize(start + snap::raw::max_compress_len(chunk.len()), 0);
                let written = encoder
                    .compress(chunk, &mut out[start..])
                    .map_err(|e| CodecError::corrupt(codec, e))?;
                out.truncate(start + written);
                // A chunk is at most 32 KiB, so its compressed length fits easily.
                out[len_at..start].copy_from_slice(&(written as u32).to_be_bytes());
            }
        }
        Compression::Lz4 => lz4_frame(input, out),
        Compression::Zstd => {
            // ruzstd panics on levels it does not implement; Fastest is the only real one.
            ruzstd::encoding::compress(input, out, ruzstd::encoding::CompressionLevel::Fastest);
        }
    }
    Ok(())
}

/// An LZ4 frame header: magic, then FLG 0x60 (version 1, independent blocks, no checksums, no
/// content size) and BD 0x40 (64 KiB blocks), then their header checksum byte. Fixed, so
/// written as bytes; what the Java client writes, and all its reader accepts (it cannot decode
/// linked blocks). A unit test checks it against lz4_flex's own frame encoder.
const LZ4_FRAME_HEADER: [u8; 7] = [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82];
const LZ4_BLOCK: usize = super::lz4::MAX_BLOCK;
/// A block's size word has this bit set when the block is stored uncompressed.
const LZ4_UNCOMPRESSED: u32 = 1 << 31;

thread_local! {
    /// Each thread's compressor: its hash table and output buffer are allocated (and the
    /// buffer zeroed) once, not per batch.
    static LZ4: std::cell::RefCell<Lz4Compressor> = std::cell::RefCell::new(Lz4Compressor::new());
}

/// `input` as one LZ4 frame of independent 64 KiB blocks, appended to `out`.
fn lz4_frame(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(max_compressed_len(Compression::Lz4, input.len()));
    out.extend_from_slice(&LZ4_FRAME_HEADER);
    LZ4.with(|compressor| {
        let mut compressor = compressor.borrow_mut();
        for block in input.chunks(LZ4_BLOCK) {
            match compressor.compress(block) {
                Some(compressed) => {
                    out.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
                    out.extend_from_slice(compressed);
                }
                // A block that does not shrink is stored as it is, as the format allows.
                None => {
                    out.extend_from_slice(&(block.len() as u32 | LZ4_UNCOMPRESSED).to_le_bytes());
                    out.extend_from_slice(block);
                }
            }
        }
    });
    // End mark.
    out.extend_from_slice(&[0; 4]);
}

/// The most bytes [`compress`] can produce for `len` input bytes: every codec here falls back
/// to storing incompressible blocks, so this is the input plus framing overhead.
pub(crate) fn max_compressed_len(codec: Compression, len: usize) -> usize {
    match codec {
        Compression::Uncompressed => len,
        // zlib's deflateBound, plus the gzip header and trailer.
        Compression::Gzip => len + (len >> 12) + (len >> 14) + (len >> 25) + 13 + 18,
        Compression::Snappy => {
            let full = len / XERIAL_CHUNK;
            let rest = len % XERIAL_CHUNK;
            let mut bound =
                XERIAL_HEADER.len() + full * (4 + snap::raw::max_compress_len(XERIAL_CHUNK));
            if rest > 0 {
                bound += 4 + snap::raw::max_compress_len(rest);
            }
            bound
        }
        // Frame header (up to 19), a 4-byte size per 64 KiB block, end mark and checksum.
        Compression::Lz4 => len + 4 * len.div_ceil(64 << 10) + 19 + 8,
        // Frame header (up to 18), a 3-byte header per 128 KiB block (or one empty block),
        // and the content checksum.
        Compression::Zstd => len + 3 * len.div_ceil(128 << 10).max(1) + 18 + 4,
    }
}

/// Decompresses a records section, refusing to produce more than `max_size` bytes.
///
/// Snappy may be xerial-framed (the Java client) or a raw block (older librdkafka and sarama).
/// gzip and zstd may hold several concatenated members or frames, and zstd frames need not
/// declare their content size.
pub(crate) fn decompress(
    codec: Compression,
    input: &[u8],
    max_size: usize,
) -> Result<Vec<u8>, CodecError> {
    match codec {
        Compression::Uncompressed => {
            if input.len() > max_size {
                return Err(too_large(codec, max_size));
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => {
            let mut out = Vec::new();
            let members = flate2::read::MultiGzDecoder::new(input);
            read_bounded_into(codec, members, max_size, &mut out)?;
            Ok(out)
        }
        Compression::Snappy => {
            if input.len() >= XERIAL_HEADER.len() && input[..8] == XERIAL_HEADER[..8] {
                decompress_xerial(&input[XERIAL_HEADER.len()..], max_size)
            } else {
                let mut out = Vec::new();
                append_raw_snappy(input, &mut out, max_size)?;
                Ok(out)
            }
        }
        Compression::Lz4 => {
            let mut out = Vec::new();
            lz4_frame::decompress(input, max_size, &mut out)?;
            Ok(out)
        }
        Compression::Zstd => decompress_zstd(input, max_size),
    }
}

fn too_large(codec: Compression, limit: usize) -> CodecError {
    CodecError::TooLarge {
        codec: codec.name(),
        limit,
    }
}

/// Reads a decoder to its end onto `out`, stopping one byte past `max_size` in all so a bomb
/// costs at most that much memory (plus `Vec` growth slack).
fn read_bounded_into(
    codec: Compression,
    reader: impl Read,
    max_size: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let room = max_size.saturating_sub(out.len());
    let limit = u64::try_from(room).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(out)
        .map_err(|e| CodecError::corrupt(codec, e))?;
    if out.len() > max_size {
        return Err(too_large(codec, max_size));
    }
    Ok(())
}

/// The xerial body: chunks of a 4-byte big-endian length and a raw snappy block.
fn decompress_xerial(mut input: &[u8], max_size: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        // snappy-java reads concatenated streams, header and all; so do we.
        if let Some(rest) = input.strip_prefix(&XERIAL_HEADER[..8]) {
            input = rest.get(8..).unwrap_or_default();
            continue;
        }
        let Some((len, rest)) = input.split_first_chunk::<4>() else {
            return Err(CodecError::corrupt(
                Compression::Snappy,
                "truncated xerial chunk length",
            ));
        };
        let len = u32::from_be_bytes(*len) as usize;
        let Some((chunk, rest)) = rest.split_at_checked(len) else {
            return Err(CodecError::corrupt(
                Compression::Snappy,
                "xerial chunk longer than the data",
            ));
        };
        append_raw_snappy(chunk, &mut out, max_size)?;
        input = rest;
    }
    Ok(out)
}

/// The most a snappy block can expand: a three-byte copy element writes at most 64 bytes,
/// and no element does better.
const SNAPPY_MAX_EXPANSION: usize = 22;

/// Decodes one raw snappy block onto `out`, checking the size it declares before allocating:
/// against the cap, and against what the block's bytes can decode to at all, so a few header
/// bytes claiming a large size cost nothing.
fn append_raw_snappy(block: &[u8], out: &mut Vec<u8>, max_size: usize) -> Result<(), CodecError> {
    let codec = Compression::Snappy;
    let len = snap::raw::decompress_len(block).map_err(|e| CodecError::corrupt(codec, e))?;
    if len > max_size.saturating_sub(out.len()) {
        return Err(too_large(codec, max_size));
    }
    if len > block.len().saturating_mul(SNAPPY_MAX_EXPANSION) {
        return Err(CodecError::corrupt(
            codec,
            format!(
                "the block declares {len} bytes, more than its {} bytes can decode to",
                block.len()
            ),
        ));
    }
    let start = out.len();
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| CodecError::corrupt(codec, e))?;
    out.truncate(start + written);
    Ok(())
}

/// Decodes every frame in `input`, skipping skippable frames.
fn decompress_zstd(mut input: &[u8], max_size: usize) -> Result<Vec<u8>, CodecError> {
    use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
    use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

    let codec = Compression::Zstd;
    let mut decoder = FrameDecoder::new();
    // The decoder reserves the declared window up front; bound it so a few header bytes
    // cannot ask for 100 MiB, yet accept what real encoders declare.
    decoder.set_max_window_size(max_size.max(ZSTD_MIN_WINDOW) as u64);
    let mut out = Vec::new();
    while !input.is_empty() {
        match decoder.reset(&mut input) {
            Ok(()) => {}
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                input = input.get(length as usize..).ok_or_else(|| {
                    CodecError::corrupt(codec, "skippable frame longer than the data")
                })?;
                continue;
            }
            Err(e) => return Err(CodecError::corrupt(codec, e)),
        }
        loop {
            decoder
                .decode_blocks(&mut input, BlockDecodingStrategy::UptoBytes(64 << 10))
                .map_err(|e| CodecError::corrupt(codec, e))?;
            if decoder.can_collect() > max_size.saturating_sub(out.len()) {
                return Err(too_large(codec, max_size));
            }
            decoder
                .collect_to_writer(&mut out)
                .map_err(|e| CodecError::corrupt(codec, e))?;
            if decoder.is_finished() {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CODECS: [Compression; 5] = [
        Compression::Uncompressed,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn sample(len: usize) -> Vec<u8> {
        let text: Vec<u8> = (0..)
            .flat_map(|i: u32| format!("{{\"id\":{i},\"name\":\"kafkit\"}}").into_bytes())
            .take(len)
            .collect();
        text
    }

    fn compressed(codec: Compression, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        compress(codec, None, input, &mut out).unwrap();
        out
    }

    #[test]
    fn every_codec_round_trips_across_block_boundaries() {
        for codec in CODECS {
            for len in [0, 1, 100, XERIAL_CHUNK, XERIAL_CHUNK + 1, 300_000] {
                let input = sample(len);
                let out = compressed(codec, &input);
                assert!(
                    out.len() <= max_compressed_len(codec, len),
                    "{codec:?} {len}"
                );
                assert!(
                    decompress(codec, &out, len).unwrap() == input,
                    "{codec:?} {len}"
                );
            }
        }
    }

    #[test]
    fn a_snappy_length_its_block_cannot_fill_is_refused_before_allocating() {
        // Five bytes: a varint claiming 100 MB, and nothing to decode it from. Before, the
        // 100 MB were allocated (under a 1 GB cap) before snappy found the block empty.
        let mut block = Vec::new();
        let mut n = 100_000_000u32;
        while n >= 0x80 {
            block.push((n as u8) | 0x80);
            n >>= 7;
        }
        block.push(n as u8);
        match decompress(Compression::Snappy, &block, 1 << 30) {
            Err(CodecError::Corrupt { reason, .. }) => {
                assert!(reason.contains("more than its 4 bytes"), "{reason}")
            }
            other => panic!("expected a refused block, got {other:?}"),
        }
        // Real data at the highest ratio snappy reaches still decodes.
        let zeros = vec![0u8; 1 << 20];
        let compressed = snap::raw::Encoder::new().compress_vec(&zeros).unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &compressed, 1 << 21).unwrap(),
            zeros
        );
    }

    #[test]
    fn output_beyond_the_cap_is_an_error() {
        let input = vec![b'x'; 100_000];
        for codec in CODECS {
            let out = compressed(codec, &input);
            let err = decompress(codec, &out, 99_999).unwrap_err();
            assert!(
                matches!(err, CodecError::TooLarge { limit: 99_999, .. }),
                "{codec:?}: {err}"
            );
        }
    }

    #[test]
    fn gzip_level_is_honoured() {
        let input = sample(50_000);
        let mut stored = Vec::new();
        compress(Compression::Gzip, Some(0), &input, &mut stored).unwrap();
        assert!(stored.len() > input.len());
        let best = compressed(Compression::Gzip, &input);
        assert!(best.len() < input.len() / 5);
        assert!(decompress(Compression::Gzip, &stored, usize::MAX).unwrap() == input);
    }

    #[test]
    fn snappy_writes_xerial_and_reads_xerial_or_raw() {
        let input = sample(70_000);
        let xerial = compressed(Compression::Snappy, &input);
        assert_eq!(xerial[..16], XERIAL_HEADER);
        // Three chunks of at most 32 KiB, each prefixed with its big-endian length.
        let first = u32::from_be_bytes(xerial[16..20].try_into().unwrap()) as usize;
        let block = &xerial[20..20 + first];
        assert_eq!(snap::raw::decompress_len(block).unwrap(), XERIAL_CHUNK);
        let raw = snap::raw::Encoder::new().compress_vec(&input).unwrap();
        assert!(decompress(Compression::Snappy, &raw, input.len()).unwrap() == input);
        // A raw block that claims more than the cap is refused before allocating.
        assert!(matches!(
            decompress(Compression::Snappy, &raw, 1000),
            Err(CodecError::TooLarge { .. })
        ));
        let mut twice = xerial.clone();
        twice.extend_from_slice(&xerial);
        let doubled = [input.clone(), input.clone()].concat();
        assert!(decompress(Compression::Snappy, &twice, usize::MAX).unwrap() == doubled);
        let mut truncated = xerial.clone();
        truncated.truncate(30);
        assert!(decompress(Compression::Snappy, &truncated, usize::MAX).is_err());
    }

    #[test]
    fn concatenated_gzip_members_and_zstd_frames() {
        let (a, b) = (sample(1000), sample(3000));
        for codec in [Compression::Gzip, Compression::Zstd, Compression::Lz4] {
            let mut both = compressed(codec, &a);
            both.extend(compressed(codec, &b));
            let expected = [a.clone(), b.clone()].concat();
            assert!(
                decompress(codec, &both, usize::MAX).unwrap() == expected,
                "{codec:?}"
            );
        }
        // A skippable zstd frame between them is ignored.
        let mut with_skip = compressed(Compression::Zstd, &a);
        with_skip.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
        with_skip.extend_from_slice(&3u32.to_le_bytes());
        with_skip.extend_from_slice(b"xyz");
        with_skip.extend(compressed(Compression::Zstd, &b));
        assert_eq!(
            decompress(Compression::Zstd, &with_skip, usize::MAX).unwrap(),
            [a, b].concat()
        );
    }

    #[test]
    fn lz4_frames_are_what_the_java_reader_accepts() {
        let out = compressed(Compression::Lz4, &sample(200_000));
        assert_eq!(out[..4], 0x184D_2204u32.to_le_bytes());
        // FLG: version 01, independent blocks, no checksums or content size; BD: 64 KiB.
        assert_eq!(out[4..6], [0x60, 0x40]);
    }

    #[test]
    fn lz4_header_matches_lz4_flex_frame_encoder() {
        // The same frame settings through lz4_flex's encoder, which computes the checksum.
        let info = lz4_flex::frame::FrameInfo::new()
            .block_size(lz4_flex::frame::BlockSize::Max64KB)
            .block_mode(lz4_flex::frame::BlockMode::Independent);
        let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        std::io::Write::write_all(&mut enc, b"kafkit").unwrap();
        let theirs = enc.finish().unwrap();
        assert_eq!(theirs[..7], LZ4_FRAME_HEADER);
        // And lz4_flex's decoder reads ours, for compressible, stored and empty input.
        let stored = crate::protocol::lz4::noise(70_000);
        let first_block = u32::from_le_bytes(
            compressed(Compression::Lz4, &stored)[7..11]
                .try_into()
                .unwrap(),
        );
        assert!(
            first_block & LZ4_UNCOMPRESSED != 0,
            "incompressible input goes out as a stored block"
        );
        for input in [sample(200_000), stored, Vec::new()] {
            let ours = compressed(Compression::Lz4, &input);
            let mut back = Vec::new();
            std::io::Read::read_to_end(
                &mut lz4_flex::frame::FrameDecoder::new(&ours[..]),
                &mut back,
            )
            .unwrap();
            assert_eq!(back, input);
        }
    }

    proptest! {
        #[test]
        fn incompressible_input_stays_within_the_bound(
            input in prop::collection::vec(any::<u8>(), 0..140_000),
            codec in prop::sample::select(CODECS.to_vec()),
        ) {
            let out = compressed(codec, &input);
            prop_assert!(out.len() <= max_compressed_len(codec, input.len()));
            prop_assert!(decompress(codec, &out, input.len()).unwrap() == input);
        }

        #[test]
        fn garbage_never_panics(
            input in prop::collection::vec(any::<u8>(), 0..256),
            codec in prop::sample::select(CODECS.to_vec()),
        ) {
            let _ = decompress(codec, &input, 1 << 16);
        }
    }
}
