//! Arbitrary bytes as one partition's fetch answer (flags, fetch offset, aborted
//! transactions, records), through the consumer's scan and lazy decoding: never a panic,
//! never a record outside the fetched range.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_fetch_records(data);
});
