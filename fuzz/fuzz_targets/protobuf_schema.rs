//! Arbitrary bytes as the text of a registered Protobuf schema (`.proto` text or a base64
//! descriptor), as a registry may answer `use.latest.version`'s lookup. Errors are fine;
//! panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_protobuf_schema(data);
});
