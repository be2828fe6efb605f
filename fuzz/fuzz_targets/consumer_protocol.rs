//! Arbitrary bytes as a group's member metadata, decoded as subscriptions and assignments
//! and handed to each assignor as the group leader does: never a panic, and every
//! assignment valid (see `kafkit::__fuzz::fuzz_consumer_protocol`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_consumer_protocol(data);
});
