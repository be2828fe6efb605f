//! A broker that answers with arbitrary bytes, from the ApiVersions handshake on: the
//! connection task and its callers end in errors or values, never a panic, abort or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_connection(data);
});
