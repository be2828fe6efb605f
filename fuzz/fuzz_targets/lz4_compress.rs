//! Arbitrary bytes through kafkit's LZ4 block compressor: it must not panic, and lz4_flex's
//! decoder must give the same bytes back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_lz4_round_trip(data);
});
