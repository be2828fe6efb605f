//! Arbitrary bytes as a record in the Schema Registry's Protobuf wire format: header, message
//! indexes, message. Errors are fine; panics and allocations beyond the bytes are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_protobuf_record(data);
});
