//! One client connection: read a request, record it, ask its hook, act, repeat.

use super::answers::{self, Answer, Injected};
use super::script::{Received, Reply, ResponseBody};
use super::Shared;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchRequest};
use kafka_protocol::protocol::decode_request_header_from_buffer;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest request frame read; a bigger size field ends the connection.
const MAX_FRAME: usize = 100 << 20;

/// Serves one connection until the client closes it or a reply ends it.
pub(super) async fn serve(shared: Arc<Shared>, mut stream: TcpStream) {
    while let Some(frame) = read_frame(&mut stream).await {
        let req = match parse(frame) {
            Ok(req) => req,
            Err(e) => {
                eprintln!("fake broker: closing a connection: {e}");
                return;
            }
        };
        shared.record(&req);
        let reply = match shared.hook(req.api_key) {
            Some(hook) => hook(&req),
            None => Reply::Default,
        };
        if let Err(e) = act(&shared, &mut stream, &req, reply).await {
            if !e.is_empty() {
                eprintln!(
                    "fake broker: closing a connection after {:?}: {e}",
                    req.api_key
                );
            }
            return;
        }
    }
}

/// Does what `reply` says; `Err` ends the connection (an empty message: as scripted).
async fn act(
    shared: &Shared,
    stream: &mut TcpStream,
    req: &Received,
    mut reply: Reply,
) -> Result<(), String> {
    while let Reply::After(delay, inner) = reply {
        tokio::time::sleep(delay).await;
        reply = *inner;
    }
    let frame = match reply {
        Reply::Default => default_answer(shared, req, &[]).await?,
        Reply::Errors(errors) => default_answer(shared, req, &errors).await?,
        Reply::Response(body) => Some(encode(req, body.as_ref())?),
        Reply::Raw(bytes) => Some(bytes),
        Reply::Close => return Err(String::new()),
        Reply::Hang => {
            // Whatever else the client sends goes unanswered, until it closes.
            let _ = tokio::io::copy(stream, &mut tokio::io::sink()).await;
            return Err(String::new());
        }
        Reply::After(..) => unreachable!("unwrapped above"),
    };
    match frame {
        Some(frame) => stream.write_all(&frame).await.map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

/// The broker's own answer as a frame (`None`: nothing to send). A Fetch that finds no
/// records waits, up to its `max_wait_ms`, for a Produce to append some, as a broker does.
async fn default_answer(
    shared: &Shared,
    req: &Received,
    errors: &Injected,
) -> Result<Option<Bytes>, String> {
    if req.api_key == ApiKey::Fetch && errors.is_empty() {
        let fetch: FetchRequest = req.decode();
        let wait = Duration::from_millis(fetch.max_wait_ms.max(0) as u64);
        let appended = shared.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        let (response, any) = answers::fetch(shared, fetch.clone(), req.version, errors);
        if any || wait.is_zero() || tokio::time::timeout(wait, appended).await.is_err() {
            return encode(req, &response).map(Some);
        }
        let (response, _) = answers::fetch(shared, fetch, req.version, errors);
        return encode(req, &response).map(Some);
    }
    match answers::answer(shared, req, errors)? {
        Answer::Body(body) => encode(req, body.as_ref()).map(Some),
        Answer::Nothing => Ok(None),
    }
}

/// `body` as a response frame to `req`.
fn encode(req: &Received, body: &dyn ResponseBody) -> Result<Bytes, String> {
    let mut encoded = BytesMut::new();
    body.encode_body(&mut encoded, req.version)
        .map_err(|e| format!("cannot encode the response at v{}: {e}", req.version))?;
    Ok(req.frame(&encoded))
}

/// The next request frame, without its size; `None` when the client is gone.
async fn read_frame(stream: &mut TcpStream) -> Option<Bytes> {
    let size = stream.read_i32().await.ok()?;
    let size = usize::try_from(size).ok().filter(|&s| s <= MAX_FRAME)?;
    let mut frame = BytesMut::zeroed(size);
    stream.read_exact(&mut frame).await.ok()?;
    Some(frame.freeze())
}

/// A request frame's header and body.
fn parse(mut frame: Bytes) -> Result<Received, String> {
    if frame.len() < 8 {
        return Err(format!("a {}-byte request frame", frame.len()));
    }
    let header = decode_request_header_from_buffer(&mut frame).map_err(|e| e.to_string())?;
    let api_key = ApiKey::try_from(header.request_api_key)
        .map_err(|()| format!("unknown API key {}", header.request_api_key))?;
    Ok(Received {
        api_key,
        version: header.request_api_version,
        correlation_id: header.correlation_id,
        client_id: header.client_id.map(|id| id.to_string()),
        body: frame,
    })
}
