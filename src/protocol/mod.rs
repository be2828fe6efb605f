//! The wire format: framing, version negotiation, record batches, compression.

pub(crate) mod compression;
pub(crate) mod consumer_protocol;
pub(crate) mod frame;
pub(crate) mod lz4;
pub(crate) mod record_batch;
pub(crate) mod varint;
pub(crate) mod versions;
pub(crate) mod wire;
