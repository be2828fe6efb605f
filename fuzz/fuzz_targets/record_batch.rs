//! Arbitrary bytes as a fetch response's records: decoding must never panic, whatever it
//! returns.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_decode(data);
});
