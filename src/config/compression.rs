//! The `compression.type` setting.

/// The codec of a record batch (`compression.type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// `none`: no compression.
    #[default]
    Uncompressed,
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
    /// The Java name (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Uncompressed => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = crate::error::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Compression::Uncompressed),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            other => Err(crate::error::Error::config(format!(
                "compression.type: {other:?} is not one of none, gzip, snappy, lz4, zstd"
            ))),
        }
    }
}
