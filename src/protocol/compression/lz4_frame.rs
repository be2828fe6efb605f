//! Reading LZ4 frames, the format of Kafka's lz4 batches, straight into the caller's buffer.
//!
//! Why not lz4_flex's `FrameDecoder`: it is a `Read`er, so each block is copied into its
//! input buffer (zeroed first), decoded into its output buffer, then copied again into ours,
//! which grows by doubling as it goes. Here each block is decoded by lz4_flex's checked
//! block decoder from the fetched bytes into its place in the output, which is reserved once
//! per frame from the block headers. Independent blocks (what Java and librdkafka write)
//! and linked ones (the previous 64 KiB of the frame's output as their dictionary) are both
//! read; checksums are verified when the frame carries them; dictionary ids are refused.

use super::{too_large, CodecError};
use crate::config::Compression;
use twox_hash::XxHash32;

const MAGIC: u32 = 0x184D_2204;
/// Skippable frames carry a magic in 0x184D2A50..=0x184D2A5F and are ignored.
const SKIPPABLE: u32 = 0x184D_2A50;
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
/// A block's size word has this bit set when the block is stored uncompressed.
const STORED: u32 = 1 << 31;
/// How far back a match may reach: the dictionary a linked block sees.
const WINDOW: usize = 64 << 10;
/// The most an LZ4 block can expand: a run of 255-valued length bytes, 255 bytes each.
const MAX_EXPANSION: usize = 255;

fn corrupt(reason: impl std::fmt::Display) -> CodecError {
    CodecError::corrupt(Compression::Lz4, reason)
}

/// Takes `n` bytes off the front of `input`.
fn take<'a>(input: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], CodecError> {
    let Some((head, rest)) = input.split_at_checked(n) else {
        return Err(corrupt(format!("truncated {what}")));
    };
    *input = rest;
    Ok(head)
}

/// Takes `N` bytes off the front of `input`.
fn take_array<const N: usize>(input: &mut &[u8], what: &str) -> Result<[u8; N], CodecError> {
    let Some((head, rest)) = input.split_first_chunk::<N>() else {
        return Err(corrupt(format!("truncated {what}")));
    };
    *input = rest;
    Ok(*head)
}

fn take_u32(input: &mut &[u8], what: &str) -> Result<u32, CodecError> {
    take_array(input, what).map(u32::from_le_bytes)
}

fn check(data: &[u8], expected: u32, what: &str) -> Result<(), CodecError> {
    if XxHash32::oneshot(0, data) == expected {
        Ok(())
    } else {
        Err(corrupt(format!("{what} checksum mismatch")))
    }
}

/// A frame's descriptor.
struct Descriptor {
    independent: bool,
    block_checksums: bool,
    content_checksum: bool,
    content_size: Option<u64>,
    max_block: usize,
}

fn descriptor(input: &mut &[u8]) -> Result<Descriptor, CodecError> {
    let start = *input;
    let [flg, bd] = take_array(input, "frame descriptor")?;
    if flg >> 6 != 1 {
        return Err(corrupt(format!("frame version {} is not 1", flg >> 6)));
    }
    if flg & 0x02 != 0 || bd & 0x8F != 0 {
        return Err(corrupt("reserved bits set in the frame descriptor"));
    }
    if flg & 0x01 != 0 {
        return Err(corrupt("frames with a dictionary id are not supported"));
    }
    let max_block = match (bd >> 4) & 0x07 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        id => return Err(corrupt(format!("block size id {id} is not 4 to 7"))),
    };
    let content_size = if flg & 0x08 != 0 {
        Some(u64::from_le_bytes(take_array(input, "content size")?))
    } else {
        None
    };
    let described = &start[..start.len() - input.len()];
    let [hc] = take_array(input, "header checksum")?;
    if (XxHash32::oneshot(0, described) >> 8) as u8 != hc {
        return Err(corrupt("header checksum mismatch"));
    }
    Ok(Descriptor {
        independent: flg & 0x20 != 0,
        block_checksums: flg & 0x10 != 0,
        content_checksum: flg & 0x04 != 0,
        content_size,
        max_block,
    })
}

/// One block: its data, whether it is stored as it is, and its checksum if the frame has
/// them (checked where the block is decoded, not by the pass that sizes the output).
struct Block<'a> {
    data: &'a [u8],
    stored: bool,
    checksum: Option<u32>,
}

/// The next block of a frame, or `None` at its end mark.
fn block<'a>(input: &mut &'a [u8], frame: &Descriptor) -> Result<Option<Block<'a>>, CodecError> {
    let word = take_u32(input, "block size")?;
    if word == 0 {
        return Ok(None);
    }
    let len = (word & !STORED) as usize;
    if len > frame.max_block {
        return Err(corrupt(format!(
            "a {len}-byte block in a frame of {}-byte blocks",
            frame.max_block
        )));
    }
    let data = take(input, len, "block")?;
    let checksum = if frame.block_checksums {
        Some(take_u32(input, "block checksum")?)
    } else {
        None
    };
    Ok(Some(Block {
        data,
        stored: word & STORED != 0,
        checksum,
    }))
}

/// The most a block can decode to: its frame's block size, or what its bytes can expand to.
fn block_bound(block: &Block<'_>, frame: &Descriptor) -> usize {
    if block.stored {
        block.data.len()
    } else {
        frame
            .max_block
            .min(block.data.len().saturating_mul(MAX_EXPANSION))
    }
}

/// One block of an independent frame (or a linked frame's first) into `into`. Not inlined,
/// and apart from [`decode_linked`]: inside the frame loop, or with both decoders in one
/// function, the compiler stopped inlining the decoder's copy helpers, which cost a third of
/// the throughput on 1 MiB of text (`batch/1x1MiB/decode/lz4` in `benches/codec.rs`).
#[inline(never)]
fn decode_independent(
    data: &[u8],
    into: &mut [u8],
) -> Result<usize, lz4_flex::block::DecompressError> {
    lz4_flex::block::decompress_into(data, into)
}

/// One block of a linked frame into `into`; `dict` is the frame's output before it.
#[inline(never)]
fn decode_linked(
    data: &[u8],
    into: &mut [u8],
    dict: &[u8],
) -> Result<usize, lz4_flex::block::DecompressError> {
    lz4_flex::block::decompress_into_with_dict(data, into, dict)
}

/// Decodes every frame in `input` onto `out`, refusing to let `out` pass `max_size` bytes.
pub(super) fn decompress(
    mut input: &[u8],
    max_size: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let codec = Compression::Lz4;
    while !input.is_empty() {
        let magic = take_u32(&mut input, "frame magic")?;
        if magic & SKIPPABLE_MASK == SKIPPABLE {
            let len = take_u32(&mut input, "skippable frame size")? as usize;
            take(&mut input, len, "skippable frame")?;
            continue;
        }
        if magic != MAGIC {
            return Err(corrupt(format!("{magic:#010x} is not an LZ4 frame magic")));
        }
        let frame = descriptor(&mut input)?;

        // Reserve once: a pass over the block headers bounds the frame's output by the
        // bytes that arrived (and by the limit).
        let mut scan = input;
        let mut bound = 0usize;
        while let Some(block) = block(&mut scan, &frame)? {
            bound = bound.saturating_add(block_bound(&block, &frame));
        }
        out.reserve(bound.min(max_size.saturating_sub(out.len())));

        let frame_start = out.len();
        while let Some(block) = block(&mut input, &frame)? {
            if let Some(expected) = block.checksum {
                check(block.data, expected, "block")?;
            }
            let start = out.len();
            let room = max_size.saturating_sub(start);
            if block.stored {
                if block.data.len() > room {
                    return Err(too_large(codec, max_size));
                }
                out.extend_from_slice(block.data);
                continue;
            }
            let fits = block_bound(&block, &frame).min(room);
            out.resize(start + fits, 0);
            let (before, into) = out.split_at_mut(start);
            let decoded = if frame.independent || start == frame_start {
                decode_independent(block.data, into)
            } else {
                let dict = &before[frame_start.max(start.saturating_sub(WINDOW))..];
                decode_linked(block.data, into, dict)
            };
            match decoded {
                Ok(written) => out.truncate(start + written),
                Err(lz4_flex::block::DecompressError::OutputTooSmall { .. })
                    if fits < block_bound(&block, &frame) =>
                {
                    return Err(too_large(codec, max_size));
                }
                Err(e) => return Err(corrupt(e)),
            }
        }
        let content = &out[frame_start..];
        if frame
            .content_size
            .is_some_and(|size| size != content.len() as u64)
        {
            return Err(corrupt("content size mismatch"));
        }
        if frame.content_checksum {
            check(
                content,
                take_u32(&mut input, "content checksum")?,
                "content",
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    use proptest::prelude::*;

    fn text(len: usize) -> Vec<u8> {
        (0..)
            .flat_map(|i: u32| format!("{{\"order\":{i},\"item\":\"kafkit\"}}").into_bytes())
            .take(len)
            .collect()
    }

    /// `input` framed by lz4_flex's encoder with `info`.
    fn framed(info: FrameInfo, input: &[u8]) -> Vec<u8> {
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        std::io::Write::write_all(&mut enc, input).unwrap();
        enc.finish().unwrap()
    }

    fn decoded(input: &[u8], max_size: usize) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::new();
        decompress(input, max_size, &mut out).map(|()| out)
    }

    #[test]
    fn every_frame_setting_lz4_flex_writes_is_read() {
        let input = [text(300_000), crate::protocol::lz4::noise(70_000)].concat();
        for mode in [BlockMode::Independent, BlockMode::Linked] {
            for size in [
                BlockSize::Max64KB,
                BlockSize::Max256KB,
                BlockSize::Max1MB,
                BlockSize::Max4MB,
            ] {
                for (block_checksums, content_checksum, content_size) in
                    [(false, false, false), (true, true, true)]
                {
                    let info = FrameInfo::new()
                        .block_mode(mode)
                        .block_size(size)
                        .block_checksums(block_checksums)
                        .content_checksum(content_checksum)
                        .content_size(content_size.then_some(input.len() as u64));
                    let frame = framed(info, &input);
                    assert!(
                        decoded(&frame, usize::MAX).unwrap() == input,
                        "{mode:?} {size:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn linked_blocks_reach_back_into_the_previous_block() {
        // Repeats 64 KiB apart: a linked frame's later blocks are matches into earlier ones.
        let unit = crate::protocol::lz4::noise(40_000);
        let input = unit.repeat(6);
        let info = FrameInfo::new()
            .block_mode(BlockMode::Linked)
            .block_size(BlockSize::Max64KB);
        let frame = framed(info, &input);
        assert!(
            frame.len() < input.len() / 2,
            "the blocks matched across each other"
        );
        assert!(decoded(&frame, usize::MAX).unwrap() == input);
    }

    #[test]
    fn corrupt_checksums_and_headers_are_errors() {
        let input = text(100_000);
        let info = FrameInfo::new()
            .block_checksums(true)
            .content_checksum(true);
        let frame = framed(info, &input);
        for at in [4, 6, 12, frame.len() - 10, frame.len() - 1] {
            let mut bad = frame.clone();
            bad[at] ^= 0x01;
            assert!(
                matches!(decoded(&bad, usize::MAX), Err(CodecError::Corrupt { .. })),
                "a flipped bit at {at} went unnoticed"
            );
        }
        for cut in 1..12 {
            assert!(decoded(&frame[..frame.len() - cut], usize::MAX).is_err());
        }
    }

    #[test]
    fn output_past_the_limit_is_too_large_not_allocated() {
        let input = vec![b'a'; 1 << 20];
        let frame = framed(FrameInfo::new(), &input);
        assert!(frame.len() < 10_000);
        let err = decoded(&frame, 100_000).unwrap_err();
        assert!(
            matches!(err, CodecError::TooLarge { limit: 100_000, .. }),
            "{err}"
        );
        assert!(decoded(&frame, 1 << 20).unwrap() == input);
    }

    #[test]
    fn skippable_frames_are_skipped() {
        let a = framed(FrameInfo::new(), b"first ");
        let b = framed(FrameInfo::new(), b"second");
        let mut input = a;
        input.extend_from_slice(&0x184D_2A5Fu32.to_le_bytes());
        input.extend_from_slice(&3u32.to_le_bytes());
        input.extend_from_slice(b"xyz");
        input.extend(b);
        assert_eq!(decoded(&input, usize::MAX).unwrap(), b"first second");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_after_a_header_never_panic(
            tail in prop::collection::vec(any::<u8>(), 0..2_000),
        ) {
            let mut input = framed(FrameInfo::new(), b"")[..7].to_vec();
            input.extend(tail);
            let _ = decoded(&input, 1 << 20);
        }

        #[test]
        fn what_lz4_flex_writes_round_trips(
            input in prop::collection::vec(0u8..4, 0..200_000),
            linked in any::<bool>(),
        ) {
            let mode = if linked { BlockMode::Linked } else { BlockMode::Independent };
            let frame = framed(FrameInfo::new().block_mode(mode), &input);
            prop_assert!(decoded(&frame, usize::MAX).unwrap() == input);
        }
    }
}
