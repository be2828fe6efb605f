//! LZ4 block compression: the reference's fast algorithm (one level, no dictionary), for the
//! independent blocks of at most 64 KiB that Kafka's LZ4 frames hold. Decoding stays with
//! lz4_flex's checked decoder; only the compressor is ours.
//!
//! Why not lz4_flex's compressor: on the benchmark's JSON-like records it took about 1.6× the
//! instructions of C LZ4 and produced 1% more bytes, and compression is most of the producer's
//! CPU for compressed 1 KiB records. This one differs from it, and from C LZ4's table for
//! blocks under 64 KiB, in one way that matters: it hashes five bytes, not four (C LZ4 does so
//! only for its larger-input table). Positions that share four bytes but differ in the fifth
//! land in different slots, so candidates are more often real, longer matches. On the
//! side-by-side benchmark's 1 KiB corpus (one core): 3% fewer output bytes than C LZ4, and 14%
//! more throughput than lz4_flex (5% more than C LZ4); on the generated blocks of the criterion
//! group `lz4_block` in `benches/codec.rs`, which reward longer matches less, 3% more than
//! lz4_flex. It is all safe Rust: the bounds checks are predictable branches, measured at no
//! throughput cost against a raw-pointer version.
//!
//! The output is a plain LZ4 block (the format's rules: the last five bytes are literals and
//! the last match starts at least twelve bytes before the end), so any LZ4 decoder reads it.

/// The largest block this compressor takes: offsets are 16-bit, and positions are kept as
/// `u16` in the hash table.
pub(crate) const MAX_BLOCK: usize = 64 << 10;

const MIN_MATCH: usize = 4;
/// The format's end rules: the last 5 bytes are literals; a match starts 12 or more bytes
/// before the end.
const LAST_LITERALS: usize = 5;
const MF_LIMIT: usize = 12;
/// Largest table: 8192 positions (16 KiB, fits in L1), as C LZ4's table for small blocks.
const MAX_HASH_BITS: u32 = 13;
/// Smaller inputs use a table about their size, so a batch of a few records does not clear
/// 16 KiB first.
const MIN_HASH_BITS: u32 = 8;
/// After 2^SKIP_TRIGGER misses in a row the search steps faster (C LZ4's default).
const SKIP_TRIGGER: u32 = 6;
/// The 64-bit prime C LZ4 multiplies five bytes by.
const PRIME_5_BYTES: u64 = 889_523_592_379;

/// The most bytes a block of `len` bytes compresses to (LZ4's worst case: literal runs of 255
/// need one length byte each), plus room for the 16-byte literal copies.
pub(crate) const fn max_block_output(len: usize) -> usize {
    len + len / 255 + 16 + 16
}

/// Compresses blocks, reusing its hash table and output buffer.
pub(crate) struct Lz4Compressor {
    table: Box<[u16; 1 << MAX_HASH_BITS]>,
    out: Vec<u8>,
}

impl Lz4Compressor {
    pub(crate) fn new() -> Self {
        Self {
            table: Box::new([0; 1 << MAX_HASH_BITS]),
            // Zeroed once: safe code writes into initialised bytes.
            out: vec![0; max_block_output(MAX_BLOCK)],
        }
    }

    /// `block` compressed, or `None` when it did not shrink (or is over [`MAX_BLOCK`]) and
    /// should be stored as it is.
    pub(crate) fn compress(&mut self, block: &[u8]) -> Option<&[u8]> {
        if block.len() > MAX_BLOCK {
            return None;
        }
        let written = compress_block(block, &mut self.table[..], &mut self.out);
        (written < block.len()).then(|| &self.out[..written])
    }
}

fn read_u32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}

fn read_u64(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// The hash of the five bytes at `i` (eight are read: callers keep `i + 8` in bounds).
#[inline(always)]
fn hash5(b: &[u8], i: usize, bits: u32) -> usize {
    ((read_u64(b, i) << 24).wrapping_mul(PRIME_5_BYTES) >> (64 - bits)) as usize
}

/// How many bytes from `a` on equal those from `b` on (`b < a`), stopping at `limit`.
#[inline(always)]
fn match_len(src: &[u8], mut a: usize, mut b: usize, limit: usize) -> usize {
    let start = a;
    while a + 8 <= limit {
        let diff = read_u64(src, a) ^ read_u64(src, b);
        if diff != 0 {
            return a - start + (diff.trailing_zeros() / 8) as usize;
        }
        a += 8;
        b += 8;
    }
    while a < limit && src[a] == src[b] {
        a += 1;
        b += 1;
    }
    a - start
}

/// Writes the 255-byte continuation of a length that did not fit its token nibble.
#[inline(always)]
fn write_len(dst: &mut [u8], mut op: usize, mut n: usize) -> usize {
    while n >= 255 {
        dst[op] = 255;
        op += 1;
        n -= 255;
    }
    dst[op] = n as u8;
    op + 1
}

#[inline(always)]
fn copy_literals(dst: &mut [u8], op: usize, src: &[u8], from: usize, len: usize) {
    // Most literal runs are short: one fixed 16-byte copy beats a memcpy call for them.
    if len <= 16 && from + 16 <= src.len() && op + 16 <= dst.len() {
        dst[op..op + 16].copy_from_slice(&src[from..from + 16]);
    } else {
        dst[op..op + len].copy_from_slice(&src[from..from + len]);
    }
}

/// Compresses `src` (at most [`MAX_BLOCK`]) into `dst` (at least
/// [`max_block_output`]`(src.len())` long); returns the bytes written.
fn compress_block(src: &[u8], table: &mut [u16], dst: &mut [u8]) -> usize {
    debug_assert!(src.len() <= MAX_BLOCK && dst.len() >= max_block_output(src.len()));
    let len = src.len();
    let mut op = 0;
    let mut anchor = 0;
    if len > MF_LIMIT {
        let bits = (usize::BITS - len.leading_zeros()).clamp(MIN_HASH_BITS, MAX_HASH_BITS);
        let table = &mut table[..1 << bits];
        table.fill(0);
        // Matches start at or before `mf_limit`, and `match_len` stops at `match_limit`.
        let mf_limit = len - MF_LIMIT;
        let match_limit = len - LAST_LITERALS;
        // A block may not start with a match, so the search starts at 1; position 0 is
        // already what every cleared slot points at.
        let mut ip = 1;
        let mut next_hash = hash5(src, ip, bits);
        'blocks: loop {
            // Find a match: each position's hash is computed one step ahead, and the step
            // grows after a run of misses, so incompressible stretches are crossed quickly.
            let mut candidate;
            let mut next_ip = ip;
            let mut step = 1;
            let mut misses = 1usize << SKIP_TRIGGER;
            loop {
                let h = next_hash;
                ip = next_ip;
                next_ip += step;
                step = misses >> SKIP_TRIGGER;
                misses += 1;
                if next_ip > mf_limit {
                    break 'blocks;
                }
                candidate = table[h] as usize;
                next_hash = hash5(src, next_ip, bits);
                table[h] = ip as u16;
                if read_u32(src, candidate) == read_u32(src, ip) {
                    break;
                }
            }
            // Extend the match backwards over bytes that were to be literals.
            while ip > anchor && candidate > 0 && src[ip - 1] == src[candidate - 1] {
                ip -= 1;
                candidate -= 1;
            }
            let literals = ip - anchor;
            let mut token = op;
            op += 1;
            if literals >= 15 {
                dst[token] = 0xF0;
                op = write_len(dst, op, literals - 15);
            } else {
                dst[token] = (literals as u8) << 4;
            }
            copy_literals(dst, op, src, anchor, literals);
            op += literals;
            // Emit the match, then try the position right after it: matches often follow
            // each other, and then the sequence has no literals.
            loop {
                // ip < 64 KiB, so the offset fits.
                dst[op..op + 2].copy_from_slice(&((ip - candidate) as u16).to_le_bytes());
                op += 2;
                let extra = match_len(src, ip + MIN_MATCH, candidate + MIN_MATCH, match_limit);
                ip += MIN_MATCH + extra;
                if extra >= 15 {
                    dst[token] |= 0x0F;
                    op = write_len(dst, op, extra - 15);
                } else {
                    dst[token] |= extra as u8;
                }
                anchor = ip;
                if ip > mf_limit {
                    break 'blocks;
                }
                table[hash5(src, ip - 2, bits)] = (ip - 2) as u16;
                let h = hash5(src, ip, bits);
                candidate = table[h] as usize;
                table[h] = ip as u16;
                if read_u32(src, candidate) != read_u32(src, ip) {
                    break;
                }
                token = op;
                dst[op] = 0;
                op += 1;
            }
            ip += 1;
            next_hash = hash5(src, ip, bits);
        }
    }
    let literals = len - anchor;
    if literals >= 15 {
        dst[op] = 0xF0;
        op = write_len(dst, op + 1, literals - 15);
    } else {
        dst[op] = (literals as u8) << 4;
        op += 1;
    }
    dst[op..op + literals].copy_from_slice(&src[anchor..]);
    op + literals
}

/// Hooks for the fuzz targets and benchmarks, exported from the crate root only with the
/// `fuzzing` feature.
#[cfg(feature = "fuzzing")]
pub mod hooks {
    use super::{compress_block, max_block_output, Lz4Compressor, MAX_BLOCK, MAX_HASH_BITS};

    /// Compresses up to 64 KiB of arbitrary bytes, even when they do not shrink, and panics
    /// unless lz4_flex's decoder gives them back.
    pub fn fuzz_lz4_round_trip(data: &[u8]) {
        let input = &data[..data.len().min(MAX_BLOCK)];
        let mut table = [0; 1 << MAX_HASH_BITS];
        let mut out = vec![0; max_block_output(input.len())];
        let written = compress_block(input, &mut table, &mut out);
        let back =
            lz4_flex::block::decompress(&out[..written], input.len()).expect("our block decodes");
        assert!(back == input, "LZ4 round trip changed the bytes");
    }

    /// A reusable LZ4 block compressor, as the producer keeps one per thread.
    pub struct BenchLz4(Lz4Compressor);

    impl BenchLz4 {
        /// A compressor with its table and buffer allocated.
        #[allow(clippy::new_without_default)]
        pub fn new() -> Self {
            Self(Lz4Compressor::new())
        }

        /// The compressed length of `block` (at most 64 KiB); its own length when stored.
        pub fn compressed_len(&mut self, block: &[u8]) -> usize {
            self.0.compress(block).map_or(block.len(), <[u8]>::len)
        }
    }
}

/// `len` xorshift64 bytes: nothing for a compressor to find.
#[cfg(test)]
pub(crate) fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Compresses (even what does not shrink), checks lz4_flex decodes it back, and returns
    /// the compressed length.
    fn round_trip(input: &[u8]) -> usize {
        let mut table = [0; 1 << MAX_HASH_BITS];
        // Exactly the documented bound: writing past it would panic.
        let mut out = vec![0; max_block_output(input.len())];
        let written = compress_block(input, &mut table, &mut out);
        let back = lz4_flex::block::decompress(&out[..written], input.len()).unwrap();
        assert!(back == input, "round trip of {} bytes", input.len());
        written
    }

    fn json_like(len: usize) -> Vec<u8> {
        (0..)
            .flat_map(|i: u32| {
                format!(
                    "{{\"id\":{i},\"ev\":\"order\",\"qty\":{},\"sku\":\"s-{}\"}}",
                    i % 7,
                    i * 31 % 1000
                )
                .into_bytes()
            })
            .take(len)
            .collect()
    }

    #[test]
    fn compressible_input_shrinks_and_round_trips() {
        for len in [13, 14, 100, 255, 256, 4096, 65_535, MAX_BLOCK] {
            let input = json_like(len);
            let out = round_trip(&input);
            if len >= 100 {
                assert!(out < len, "{len} bytes compressed to {out}");
            }
            if len >= 4096 {
                assert!(out < len / 3, "{len} bytes compressed to {out}");
            }
        }
    }

    #[test]
    fn runs_and_long_literals_use_length_continuations() {
        // One long run: a single match whose length needs many 255 bytes.
        assert!(round_trip(&[7u8; MAX_BLOCK]) < 300);
        // Literals longer than 15 (and 270), then a repeat of them.
        let mut noise = noise(600);
        noise.extend_from_within(..);
        assert!(round_trip(&noise) < 700);
    }

    #[test]
    fn incompressible_and_tiny_input_is_left_to_be_stored() {
        let mut c = Lz4Compressor::new();
        for len in [0, 1, 12, 13] {
            assert!(c.compress(&vec![0; len]).is_none(), "{len}");
        }
        assert!(c.compress(&vec![0; MAX_BLOCK + 1]).is_none());
        assert!(c.compress(&noise(50_000)).is_none());
    }

    #[test]
    fn a_reused_compressor_forgets_the_previous_block() {
        // A stale table entry from a longer block must not become a match in the next one.
        let mut c = Lz4Compressor::new();
        let first = json_like(MAX_BLOCK);
        let second = json_like(5000);
        let expected = {
            let mut fresh = Lz4Compressor::new();
            fresh.compress(&second).unwrap().to_vec()
        };
        c.compress(&first).unwrap();
        assert_eq!(c.compress(&second).unwrap(), &expected[..]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_round_trip(input in prop::collection::vec(any::<u8>(), 0..70_000)) {
            round_trip(&input[..input.len().min(MAX_BLOCK)]);
        }

        #[test]
        fn few_symbol_bytes_round_trip(
            input in prop::collection::vec(prop::sample::select(b"ab\x00{}".to_vec()), 0..70_000),
        ) {
            // A small alphabet makes matches everywhere, of every length and offset.
            round_trip(&input[..input.len().min(MAX_BLOCK)]);
        }
    }
}
