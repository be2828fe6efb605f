//! The readiness probe: a raw Metadata v4 request (the oldest version Kafka 4.x
//! still serves, and the last before flexible encoding, so it is easy to write
//! by hand). A broker answers it only once it has joined the cluster, which a
//! mere TCP accept does not prove.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub(crate) struct MetadataView {
    /// Node ids of the live brokers.
    pub(crate) brokers: Vec<i32>,
    /// Advertised (host, port) of each broker, same order.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) endpoints: Vec<(String, i32)>,
    pub(crate) controller: i32,
}

pub(crate) fn probe_metadata(addr: SocketAddr, timeout: Duration) -> io::Result<MetadataView> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let client_id = b"kafkit-testkit-probe";
    let mut body = Vec::new();
    body.extend_from_slice(&3i16.to_be_bytes()); // api key: Metadata
    body.extend_from_slice(&4i16.to_be_bytes()); // api version
    body.extend_from_slice(&7i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    body.extend_from_slice(&0i32.to_be_bytes()); // topics: none
    body.push(0); // allow_auto_topic_creation: false
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame)?;

    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    if !(8..=16 * 1024 * 1024).contains(&len) {
        return Err(io::Error::other(format!("bad response size {len}")));
    }
    let mut buf = vec![0u8; len as usize];
    stream.read_exact(&mut buf)?;
    let mut r = Reader { buf: &buf, pos: 0 };
    if r.i32()? != 7 {
        return Err(io::Error::other("correlation id mismatch"));
    }
    r.i32()?; // throttle time
    let n = r.i32()?;
    let mut brokers = Vec::new();
    let mut endpoints = Vec::new();
    for _ in 0..n.max(0) {
        brokers.push(r.i32()?);
        let host = r.string()?;
        endpoints.push((host, r.i32()?));
        r.string()?; // rack
    }
    r.string()?; // cluster id
    let controller = r.i32()?;
    Ok(MetadataView {
        brokers,
        endpoints,
        controller,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        let end = self.pos + n;
        if end > self.buf.len() {
            return Err(io::Error::other("truncated metadata response"));
        }
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i32(&mut self) -> io::Result<i32> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn string(&mut self) -> io::Result<String> {
        let len = i16::from_be_bytes(self.take(2)?.try_into().unwrap());
        if len <= 0 {
            return Ok(String::new());
        }
        Ok(String::from_utf8_lossy(self.take(len as usize)?).into_owned())
    }
}
