//! Arbitrary bytes as the response frame to any request kafkit sends, at any version it
//! speaks: decoding must return an error or a value, never panic, abort or allocate beyond
//! the frame (run with `-malloc_limit_mb`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let [api, version, frame @ ..] = data {
        kafkit::__fuzz::fuzz_decode_response(*api, *version, bytes::Bytes::copy_from_slice(frame));
    }
});
