//! A hook for the fuzz targets (feature `fuzzing`): a connection whose broker side says
//! whatever the fuzzer wants.

use super::{Connection, ConnectionParams};
use kafka_protocol::messages::{ApiVersionsRequest, FindCoordinatorRequest, MetadataRequest};
use kafka_protocol::protocol::StrBytes;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Opens a connection over an in-memory stream whose broker side answers with `data` (as
/// raw response frames, from the ApiVersions handshake on), then sends a few requests. Every
/// outcome is fine but a panic, an abort, a huge allocation or a hang: time is paused, so
/// timeouts fire as soon as nothing else can happen.
pub fn fuzz_connection(data: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (client, mut broker) = tokio::io::duplex(1 << 16);
        let params = ConnectionParams {
            client_id: StrBytes::from_static_str("fuzz"),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            max_response_size: 1 << 20,
            max_control_response_size: 64 << 10,
            security: Default::default(),
        };
        // The broker's bytes are all there at once; what the client writes is never read,
        // which the duplex buffer absorbs for the few requests sent here.
        let _ = broker.write_all(data).await;
        let Ok(conn) = Connection::handshake(client, "fuzz:9092", &params).await else {
            return;
        };
        let _ = conn.send(&MetadataRequest::default()).await;
        let _ = conn
            .send_at_most(
                &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")),
                3,
            )
            .await;
        let _ = conn.send(&ApiVersionsRequest::default()).await;
        drop(broker);
    });
}

/// With `KAFKIT_FUZZ_CAPTURE=<dir>` set, every response frame a connection decodes is also
/// written to `<dir>`, named and prefixed for the `responses` fuzz target (the API's index
/// among those kafkit speaks, and the version's offset in kafkit's range), so real brokers'
/// answers seed its corpus (`fuzz/capture.sh`).
pub(crate) fn capture(api: i16, version: i16, frame: &[u8]) {
    let Some(dir) = std::env::var_os("KAFKIT_FUZZ_CAPTURE") else {
        return;
    };
    let Some((index, (key, min, _))) = crate::protocol::versions::spoken()
        .enumerate()
        .find(|(_, (key, ..))| *key as i16 == api)
    else {
        return;
    };
    let mut bytes = vec![index as u8, (version - min) as u8];
    bytes.extend_from_slice(frame);
    let name = format!(
        "{key:?}-v{version}-{:016x}.bin",
        crc32c::crc32c(&bytes) as u64 | ((bytes.len() as u64) << 32)
    );
    let _ = std::fs::write(std::path::Path::new(&dir).join(name), bytes);
}
