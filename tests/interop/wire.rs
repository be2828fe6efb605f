//! The codec of each batch as the broker stores it, read with a hand-written Fetch.
//!
//! A round trip alone cannot tell that a producer compressed at all: an uncompressed
//! batch reads back just as well. So the tests also look at the attributes of every
//! batch in the log. The Fetch is written by hand (v4, the oldest version Kafka 4 serves and
//! the last without flexible encoding) so that neither client under test is involved, and
//! Kafka 4 never converts batches on the way out, so the bits are the producer's.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const FETCH_MAX_BYTES: i32 = 16 * 1024 * 1024;

/// The codec id (low three bits of the attributes) of every batch in `partition`, in log
/// order, trying each bootstrap address until one leads the partition.
pub async fn batch_codecs(bootstrap: &str, topic: &str, partition: i32) -> Vec<i16> {
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut failures = Vec::new();
        for addr in bootstrap.split(',').map(str::trim) {
            match fetch_codecs(addr, &topic, partition) {
                Ok(codecs) => return codecs,
                Err(e) => failures.push(format!("{addr}: {e}")),
            }
        }
        panic!("no bootstrap address served a raw fetch of {topic}-{partition}: {failures:?}")
    })
    .await
    .expect("the raw fetch panicked")
}

fn fetch_codecs(addr: &str, topic: &str, partition: i32) -> Result<Vec<i16>, String> {
    let addr = addr
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;

    let mut body = Vec::new();
    body.extend_from_slice(&1i16.to_be_bytes()); // api key: Fetch
    body.extend_from_slice(&4i16.to_be_bytes()); // api version
    body.extend_from_slice(&1i32.to_be_bytes()); // correlation id
    put_str(&mut body, "kafkit-interop-raw-fetch");
    body.extend_from_slice(&(-1i32).to_be_bytes()); // replica id: a consumer
    body.extend_from_slice(&0i32.to_be_bytes()); // max wait ms: the log is complete
    body.extend_from_slice(&0i32.to_be_bytes()); // min bytes
    body.extend_from_slice(&FETCH_MAX_BYTES.to_be_bytes());
    body.push(0); // isolation level: read uncommitted
    body.extend_from_slice(&1i32.to_be_bytes()); // one topic
    put_str(&mut body, topic);
    body.extend_from_slice(&1i32.to_be_bytes()); // one partition
    body.extend_from_slice(&partition.to_be_bytes());
    body.extend_from_slice(&0i64.to_be_bytes()); // from offset 0
    body.extend_from_slice(&FETCH_MAX_BYTES.to_be_bytes());
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame).map_err(|e| e.to_string())?;

    let mut len = [0u8; 4];
    stream.read_exact(&mut len).map_err(|e| e.to_string())?;
    let len = i32::from_be_bytes(len);
    if !(4..=2 * FETCH_MAX_BYTES).contains(&len) {
        return Err(format!("bad response size {len}"));
    }
    let mut response = vec![0u8; len as usize];
    stream
        .read_exact(&mut response)
        .map_err(|e| e.to_string())?;
    parse_fetch_v4(&response)
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as i16).to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// A big-endian reader that fails instead of panicking on a short response.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err("response too short".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
}

fn parse_fetch_v4(response: &[u8]) -> Result<Vec<i16>, String> {
    let mut r = Reader(response);
    r.i32()?; // correlation id
    r.i32()?; // throttle time
    if r.i32()? != 1 {
        return Err("expected one topic in the response".into());
    }
    let name_len = r.i16()?;
    r.take(name_len.max(0) as usize)?;
    if r.i32()? != 1 {
        return Err("expected one partition in the response".into());
    }
    r.i32()?; // partition index
    let error = r.i16()?;
    if error != 0 {
        // 6 (NOT_LEADER_OR_FOLLOWER) when this broker does not lead the partition.
        return Err(format!("fetch error code {error}"));
    }
    r.take(16)?; // high watermark, last stable offset
    let aborted = r.i32()?;
    r.take(aborted.max(0) as usize * 16)?;
    let records_len = r.i32()?;
    let mut records = r.take(records_len.max(0) as usize)?;

    // Each batch: base offset (8), length (4), leader epoch (4), magic (1), CRC (4),
    // attributes (2), ... A truncated batch at the end is legal and skipped.
    let mut codecs = Vec::new();
    while records.len() >= 12 {
        let batch_len = i32::from_be_bytes(records[8..12].try_into().unwrap());
        let total = 12 + batch_len.max(0) as usize;
        if batch_len < 11 || records.len() < total {
            break;
        }
        if records[16] != 2 {
            return Err(format!("batch with magic {}, expected 2", records[16]));
        }
        codecs.push(i16::from_be_bytes(records[21..23].try_into().unwrap()) & 0x07);
        records = &records[total..];
    }
    Ok(codecs)
}
