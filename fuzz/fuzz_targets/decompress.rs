//! Arbitrary bytes as a compressed records section, for every codec: errors are fine, panics
//! and unbounded allocations are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_decompress(data);
});
