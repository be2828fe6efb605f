//! An arbitrary Produce response settled against the batches of a request, as the producer's
//! request task settles it: every record resolved exactly once, offsets in order, every
//! record and byte of `buffer.memory` accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_produce_settle(data);
});
