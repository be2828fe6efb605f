//! The wire format: framing, version negotiation, record batches, compression.

pub mod compression;
