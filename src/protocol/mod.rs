//! The wire format: framing, version negotiation, record batches, compression.

pub mod compression;
pub(crate) mod frame;
pub(crate) mod versions;
