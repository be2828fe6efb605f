//! Arbitrary bytes as a record in the Schema Registry's Avro wire format: header, then a datum
//! of a schema with every kind of length, count and branch. Errors are fine; panics, aborts
//! and allocations beyond apache-avro's limit as `AvroSerde` sets it are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkit::__fuzz::fuzz_avro_record(data);
});
