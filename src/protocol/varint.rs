//! Zigzag variable-length integers, as record batches (magic v2) use them.
//!
//! Kafka encodes signed values with zigzag, then 7 bits per byte, low groups first, the high
//! bit of each byte meaning "more follows". A varint carries an `i32` (at most 5 bytes), a
//! varlong an `i64` (at most 10 bytes). Decoding never reads past the slice it is given.

use bytes::BufMut;

/// Why a varint did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum VarintError {
    /// The input ended in the middle of the value.
    #[error("truncated varint")]
    Truncated,
    /// More bytes, or more significant bits, than the type holds. Accepting them would
    /// silently drop bits, so the value cannot be what the writer meant.
    #[error("varint longer than its type allows")]
    Overlong,
}

/// Encodes `value` as a zigzag varint.
pub(crate) fn put_varint(buf: &mut impl BufMut, value: i32) {
    put_unsigned(buf, u64::from(zigzag32(value)));
}

/// Encodes `value` as a zigzag varlong.
pub(crate) fn put_varlong(buf: &mut impl BufMut, value: i64) {
    put_unsigned(buf, zigzag64(value));
}

/// The number of bytes [`put_varint`] writes for `value`.
pub(crate) fn varint_len(value: i32) -> usize {
    unsigned_len(u64::from(zigzag32(value)))
}

/// The number of bytes [`put_varlong`] writes for `value`.
pub(crate) fn varlong_len(value: i64) -> usize {
    unsigned_len(zigzag64(value))
}

/// Decodes a zigzag varint from the start of `input`; returns it and the bytes it took.
pub(crate) fn read_varint(input: &[u8]) -> Result<(i32, usize), VarintError> {
    let (raw, len) = read_unsigned(input, 5)?;
    let raw = u32::try_from(raw).map_err(|_| VarintError::Overlong)?;
    // Zigzag: the low bit is the sign, the rest the magnitude.
    Ok(((raw >> 1) as i32 ^ -((raw & 1) as i32), len))
}

/// Decodes a zigzag varlong from the start of `input`; returns it and the bytes it took.
pub(crate) fn read_varlong(input: &[u8]) -> Result<(i64, usize), VarintError> {
    let (raw, len) = read_unsigned(input, 10)?;
    Ok(((raw >> 1) as i64 ^ -((raw & 1) as i64), len))
}

fn zigzag32(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

fn zigzag64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn put_unsigned(buf: &mut impl BufMut, mut value: u64) {
    while value >= 0x80 {
        buf.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

fn unsigned_len(value: u64) -> usize {
    // Each byte carries 7 bits; zero still takes one byte.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads at most `max_bytes` 7-bit groups. The last permitted byte may only carry the bits
/// that still fit in 64 bits; 32-bit range is checked by the caller.
fn read_unsigned(input: &[u8], max_bytes: usize) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().enumerate() {
        if i == max_bytes {
            return Err(VarintError::Overlong);
        }
        let shift = 7 * i as u32;
        let group = u64::from(byte & 0x7f);
        if shift == 63 && group > 1 {
            return Err(VarintError::Overlong);
        }
        value |= group << shift;
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if input.len() >= max_bytes {
        Err(VarintError::Overlong)
    } else {
        Err(VarintError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode32(v: i32) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        out
    }

    fn encode64(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varlong(&mut out, v);
        out
    }

    #[test]
    fn known_encodings() {
        // Values from the Kafka protocol guide / Java ByteUtils tests.
        assert_eq!(encode32(0), [0x00]);
        assert_eq!(encode32(-1), [0x01]);
        assert_eq!(encode32(1), [0x02]);
        assert_eq!(encode32(63), [0x7e]);
        assert_eq!(encode32(-64), [0x7f]);
        assert_eq!(encode32(64), [0x80, 0x01]);
        assert_eq!(encode32(300), [0xd8, 0x04]);
        assert_eq!(encode32(i32::MAX), [0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(encode32(i32::MIN), [0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(encode64(i64::MIN).len(), 10);
        assert_eq!(
            encode64(i64::MAX),
            [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }

    #[test]
    fn truncated_and_overlong_inputs_are_errors() {
        assert_eq!(read_varint(&[]), Err(VarintError::Truncated));
        assert_eq!(read_varint(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(read_varlong(&[0xff; 9]), Err(VarintError::Truncated));
        // Six bytes for a 32-bit value.
        assert_eq!(
            read_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Err(VarintError::Overlong)
        );
        // Five bytes whose last one carries bits beyond 32.
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f]),
            Err(VarintError::Overlong)
        );
        assert_eq!(read_varlong(&[0xff; 11]), Err(VarintError::Overlong));
        let mut beyond_64 = [0xff; 10];
        beyond_64[9] = 0x02;
        assert_eq!(read_varlong(&beyond_64), Err(VarintError::Overlong));
        // A non-minimal but in-range encoding is accepted, as the Java client does.
        assert_eq!(read_varint(&[0x82, 0x00]), Ok((1, 2)));
    }

    proptest! {
        #[test]
        fn varint_round_trips(v: i32, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut bytes = encode32(v);
            prop_assert_eq!(bytes.len(), varint_len(v));
            let len = bytes.len();
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(read_varint(&bytes), Ok((v, len)));
            prop_assert_eq!(read_varint(&bytes[..len - 1]), Err(VarintError::Truncated));
            // A varint is also a valid varlong of the same value.
            prop_assert_eq!(read_varlong(&bytes), Ok((i64::from(v), len)));
        }

        #[test]
        fn varlong_round_trips(v: i64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut bytes = encode64(v);
            prop_assert_eq!(bytes.len(), varlong_len(v));
            let len = bytes.len();
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(read_varlong(&bytes), Ok((v, len)));
            prop_assert_eq!(read_varlong(&bytes[..len - 1]), Err(VarintError::Truncated));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Ok((_, len)) = read_varint(&bytes) {
                prop_assert!(len <= 5 && len <= bytes.len());
            }
            if let Ok((_, len)) = read_varlong(&bytes) {
                prop_assert!(len <= 10 && len <= bytes.len());
            }
        }
    }
}
