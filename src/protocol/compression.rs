//! Record batch compression codecs, all pure Rust.

/// The codec of a record batch (`compression.type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip (deflate), via flate2's Rust backend.
    Gzip,
    /// Snappy, in the xerial framing the Java client writes.
    Snappy,
    /// LZ4 in the frame format (not the raw block format).
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The codec id stored in the low three bits of a batch's attributes.
    pub fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec for the attribute bits of a batch, if known.
    pub fn from_attribute_bits(bits: i16) -> Option<Self> {
        match bits & 0x07 {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The Java name (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            other => Err(crate::Error::config(format!(
                "compression.type: {other:?} is not one of none, gzip, snappy, lz4, zstd"
            ))),
        }
    }
}
