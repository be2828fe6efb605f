//! What a test scripts: the request a hook sees ([`Received`]) and what the broker does
//! about it ([`Reply`]).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};
use std::time::Duration;

/// A request as the fake broker received it: recorded for [`FakeBroker::received`] and
/// shown to the hook of its API.
///
/// [`FakeBroker::received`]: super::FakeBroker::received
#[derive(Clone, Debug)]
pub struct Received {
    /// Which API.
    pub api_key: ApiKey,
    /// The version the client chose.
    pub version: i16,
    /// The header's correlation id, which the response must carry.
    pub correlation_id: i32,
    /// The header's client id.
    pub client_id: Option<String>,
    /// The request body, after the header.
    pub body: Bytes,
}

impl Received {
    /// The body decoded as `R` at the request's version.
    ///
    /// # Panics
    ///
    /// If it does not decode as `R`: the hook asked for the wrong type, or the client sent
    /// a malformed request. The connection then ends (the client sees it closed).
    pub fn decode<R: Decodable>(&self) -> R {
        R::decode(&mut self.body.clone(), self.version).unwrap_or_else(|e| {
            panic!(
                "{:?} v{} does not decode as {}: {e}",
                self.api_key,
                self.version,
                std::any::type_name::<R>()
            )
        })
    }

    /// A whole response frame (size, then the response header for this request, then
    /// `body`), for [`Reply::Raw`] when only the body is to be hostile.
    pub fn frame(&self, body: &[u8]) -> Bytes {
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        frame.put_i32(self.correlation_id);
        if self.api_key.response_header_version(self.version) >= 1 {
            frame.put_u8(0); // no tagged fields
        }
        frame.put_slice(body);
        let size = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        frame.freeze()
    }
}

/// A response body of any message type, encoded at the request's version.
pub trait ResponseBody: Send {
    /// Appends the body encoded at `version` to `buf`.
    fn encode_body(&self, buf: &mut BytesMut, version: i16) -> Result<(), String>;
}

impl<T: Encodable + Send> ResponseBody for T {
    fn encode_body(&self, buf: &mut BytesMut, version: i16) -> Result<(), String> {
        self.encode(buf, version).map_err(|e| e.to_string())
    }
}

/// What the fake broker does with one request, as a hook decides.
pub enum Reply {
    /// The broker's own answer (see [`FakeBroker`](super::FakeBroker) for which APIs have
    /// one; any other API closes the connection).
    Default,
    /// This response instead, encoded at the request's version.
    Response(Box<dyn ResponseBody>),
    /// The default answer, except that these `(topic, partition, error code)` fail with
    /// their code (Produce writes nothing to them). For Produce, Fetch, ListOffsets and
    /// Metadata; any other API closes the connection.
    Errors(Vec<(String, i32, i16)>),
    /// Waits, then does the inner reply. The connection handles nothing else meanwhile, as
    /// a broker answers one request per connection at a time.
    After(Duration, Box<Reply>),
    /// Never answers, nor anything after it on this connection, like a frozen broker; the
    /// connection stays open until the client closes it.
    Hang,
    /// Closes the connection without answering.
    Close,
    /// Writes these bytes as they are (a whole frame, or anything else), then carries on.
    Raw(Bytes),
}

impl Reply {
    /// A [`Reply::Response`] of `body`.
    pub fn response(body: impl ResponseBody + 'static) -> Reply {
        Reply::Response(Box::new(body))
    }

    /// A [`Reply::Errors`] failing each `(topic, partition)` listed with `code`.
    pub fn errors<'a>(partitions: impl IntoIterator<Item = (&'a str, i32)>, code: i16) -> Reply {
        Reply::Errors(
            partitions
                .into_iter()
                .map(|(topic, partition)| (topic.to_string(), partition, code))
                .collect(),
        )
    }

    /// `reply` after `delay`.
    pub fn after(delay: Duration, reply: Reply) -> Reply {
        Reply::After(delay, Box::new(reply))
    }
}
