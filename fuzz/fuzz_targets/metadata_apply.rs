//! Two arbitrary Metadata responses applied to the metadata cache one after the other: the
//! snapshot stays consistent (partitions indexed by id, leaders among the known brokers).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_metadata_apply(data);
});
