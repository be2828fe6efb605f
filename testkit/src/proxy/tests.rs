//! The proxy against a local echo server: forwarding, resets, the black hole,
//! the half-open mode, the delay, and what dropping it does.

use super::{pump, TcpProxy};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// An upstream that echoes every byte back.
async fn echo_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn roundtrip(s: &mut tokio::net::TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(msg).await?;
    let mut buf = vec![0u8; msg.len()];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
    )
}

#[tokio::test]
async fn proxy_forwards_bytes() {
    let up = echo_server().await;
    let proxy = TcpProxy::start(up.to_string()).await.unwrap();
    assert_eq!(proxy.upstream(), up.to_string());
    let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    assert_eq!(roundtrip(&mut s, b"hello").await.unwrap(), b"hello");
    assert_eq!(proxy.open_connections(), 1);
    assert_eq!(roundtrip(&mut s, &big).await.unwrap(), big);
    // Half-close passes through: the echo side sees EOF and closes.
    s.shutdown().await.unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    assert_eq!(proxy.connections(), 1);
    assert_eq!(proxy.resets(), 0);
    eventually("the ended connection stays open", || {
        proxy.open_connections() == 0
    })
    .await;
}

/// Waits up to 5 s for `done`.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A connection whose upstream froze (answered once, then nothing) stays open after its
/// client gives up, as TCP's half-close has it; it holds no read buffer once idle, so
/// clients reconnecting to a frozen broker do not pile up a chunk per connection.
#[tokio::test]
async fn idle_connections_give_their_read_buffers_back() {
    let frozen = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = frozen.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = frozen.accept().await {
            if s.write_all(b"answer").await.is_ok() {
                held.push(s);
            }
        }
    });
    let proxy = TcpProxy::start(up.to_string()).await.unwrap();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
            .await
            .unwrap();
        s.write_all(b"request").await.unwrap();
        let mut answer = [0u8; 6];
        s.read_exact(&mut answer).await.unwrap();
        clients.push(s);
    }
    assert!(proxy.buffered_bytes() > 0);
    drop(clients);
    eventually("idle connections hold their read buffers", || {
        proxy.buffered_bytes() == 0
    })
    .await;
    assert_eq!(proxy.open_connections(), 3);
}

#[tokio::test]
async fn proxy_chaos_and_cut_reset_connections() {
    let up = echo_server().await;
    let proxy = TcpProxy::start(up.to_string()).await.unwrap();

    let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    assert_eq!(roundtrip(&mut s, b"x").await.unwrap(), b"x");
    proxy.cut_all();
    assert_reset(&mut s, "cut did not close the connection").await;
    assert_eq!(proxy.resets(), 1);

    // Connections made after a cut are unaffected by it.
    let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    assert_eq!(roundtrip(&mut s, b"y").await.unwrap(), b"y");

    // Chaos applies to existing connections too.
    proxy.set_chaos(Some((
        Duration::from_millis(50),
        Duration::from_millis(150),
    )));
    let t = Instant::now();
    assert_reset(&mut s, "chaos did not reset the connection").await;
    assert!(
        t.elapsed() >= Duration::from_millis(40),
        "{:?}",
        t.elapsed()
    );

    // New connections live a random while, then are reset.
    for _ in 0..5 {
        let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
            .await
            .unwrap();
        let e = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Err(e) = roundtrip(&mut s, b"ping").await {
                    break e;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("chaos never reset the connection");
        assert!(
            is_reset(&e) || e.kind() == std::io::ErrorKind::UnexpectedEof,
            "{e:?}"
        );
    }
    assert_eq!(proxy.resets(), 7);
    assert_eq!(proxy.connections(), 7);

    proxy.set_chaos(None);
    let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(roundtrip(&mut s, b"calm").await.unwrap(), b"calm");
}

#[tokio::test]
async fn proxy_pause_is_a_black_hole() {
    let up = echo_server().await;
    let proxy = TcpProxy::start(up.to_string()).await.unwrap();
    let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    assert_eq!(roundtrip(&mut s, b"a").await.unwrap(), b"a");

    proxy.pause();
    let stalled = tokio::time::timeout(Duration::from_millis(300), roundtrip(&mut s, b"b")).await;
    assert!(stalled.is_err(), "bytes crossed a paused proxy");
    // New connections are accepted but go nowhere.
    let mut s2 = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    let stalled = tokio::time::timeout(Duration::from_millis(300), roundtrip(&mut s2, b"c")).await;
    assert!(stalled.is_err(), "bytes crossed a paused proxy");

    proxy.resume();
    // The held bytes arrive: "b" was written before the pause timed out.
    let mut buf = [0u8; 1];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"b");
    tokio::time::timeout(Duration::from_secs(5), s2.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"c");
    assert_eq!(roundtrip(&mut s, b"d").await.unwrap(), b"d");
}

#[tokio::test]
async fn dropping_the_proxy_resets_and_stops_listening() {
    let up = echo_server().await;
    let proxy = TcpProxy::start(up.to_string()).await.unwrap();
    let local = proxy.local_addr();
    let mut s = tokio::net::TcpStream::connect(local).await.unwrap();
    assert_eq!(roundtrip(&mut s, b"a").await.unwrap(), b"a");
    drop(proxy);
    assert_reset(&mut s, "drop did not close the connection").await;
    // The listener goes with the accept task.
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(local).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "proxy still listening after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Panics unless `s` is reset within 5 s; `silent` says what it means if nothing comes.
async fn assert_reset(s: &mut tokio::net::TcpStream, silent: &str) {
    let r = read_within(s, Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("{silent}"));
    assert!(
        matches!(&r, Err(e) if is_reset(e)),
        "expected RST, got {r:?}"
    );
}

/// Reads with a deadline: `None` if nothing (no byte, no EOF, no error) came.
async fn read_within(
    s: &mut tokio::net::TcpStream,
    limit: Duration,
) -> Option<std::io::Result<usize>> {
    let mut buf = [0u8; 16];
    tokio::time::timeout(limit, s.read(&mut buf)).await.ok()
}

#[tokio::test]
async fn half_open_drops_bytes_silently_then_resets_when_lifted() {
    let up = echo_server().await;
    let proxy = TcpProxy::start(up.to_string()).await.unwrap();
    let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    assert_eq!(roundtrip(&mut s, b"a").await.unwrap(), b"a");

    proxy.half_open();
    assert!(proxy.is_half_open());
    // Writes succeed (the kernel buffers them), nothing comes back: no byte, no FIN, no RST.
    s.write_all(b"lost").await.unwrap();
    assert!(
        read_within(&mut s, Duration::from_millis(500))
            .await
            .is_none(),
        "a half-open connection answered"
    );
    // Chaos and cuts do not break the silence.
    proxy.set_chaos(Some((Duration::from_millis(10), Duration::from_millis(20))));
    proxy.cut_all();
    assert!(read_within(&mut s, Duration::from_millis(300))
        .await
        .is_none());
    proxy.set_chaos(None);
    // A new connection is accepted and goes nowhere.
    let mut s2 = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    s2.write_all(b"x").await.unwrap();
    assert!(read_within(&mut s2, Duration::from_millis(300))
        .await
        .is_none());
    assert_eq!(proxy.stalled(), 2);
    assert_eq!(proxy.resets(), 0);

    // Lifted: the silent connections are reset, and the bytes written meanwhile never
    // arrive; new connections work.
    proxy.end_half_open();
    for conn in [&mut s, &mut s2] {
        assert_reset(conn, "a lifted half-open connection stayed silent").await;
    }
    assert_eq!(proxy.resets(), 2);
    let mut s3 = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    assert_eq!(roundtrip(&mut s3, b"back").await.unwrap(), b"back");
}

#[tokio::test]
async fn half_open_for_lifts_itself_unless_entered_again() {
    let up = echo_server().await;
    let proxy = TcpProxy::start(up.to_string()).await.unwrap();
    let t = Instant::now();
    proxy.half_open_for(Duration::from_millis(300));
    let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    assert_reset(&mut s, "the timed spell never ended").await;
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    assert!(!proxy.is_half_open());

    // A spell entered again outlives the earlier spell's timer.
    proxy.half_open_for(Duration::from_millis(100));
    proxy.half_open();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(proxy.is_half_open(), "an old timer ended a newer spell");
    proxy.end_half_open();
}

#[tokio::test]
async fn delay_holds_each_round_trip_for_twice_the_delay() {
    let up = echo_server().await;
    let proxy = TcpProxy::start(up.to_string()).await.unwrap();
    let mut s = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    assert_eq!(roundtrip(&mut s, b"warm").await.unwrap(), b"warm");
    let delay = Duration::from_millis(50);
    // Applies to a connection already open.
    proxy.set_delay(Some(delay));
    assert_eq!(proxy.delay(), Some(delay));
    for msg in [&b"a"[..], b"bb", b"ccc"] {
        let t = Instant::now();
        assert_eq!(roundtrip(&mut s, msg).await.unwrap(), msg);
        assert!(t.elapsed() >= 2 * delay, "round trip in {:?}", t.elapsed());
    }
    // And to new ones, from their first byte.
    let mut s2 = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    let t = Instant::now();
    assert_eq!(roundtrip(&mut s2, b"new").await.unwrap(), b"new");
    assert!(t.elapsed() >= 2 * delay, "round trip in {:?}", t.elapsed());

    proxy.set_delay(None);
    assert_eq!(proxy.delay(), None);
    assert_eq!(roundtrip(&mut s, b"fast").await.unwrap(), b"fast");
    // A zero delay is no delay.
    proxy.set_delay(Some(Duration::ZERO));
    assert_eq!(proxy.delay(), None);
}

/// 32 MiB through the echo server and back over a 25 ms delay each way: a
/// proxy that held one chunk (64 KiB at most) per delay would need 512 delays,
/// 12.8 s, for the way up alone; a pipe needs little more than one round trip.
#[tokio::test]
async fn delayed_stream_is_a_pipe_not_a_stop_and_wait() {
    let up = echo_server().await;
    let proxy = TcpProxy::start(up.to_string()).await.unwrap();
    proxy.set_delay(Some(Duration::from_millis(25)));
    let s = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    let (mut r, mut w) = s.into_split();
    const TOTAL: usize = 32 << 20;
    let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
    let t = Instant::now();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        for piece in sent.chunks(16 * 1024) {
            w.write_all(piece).await.unwrap();
        }
        w
    });
    let mut back = vec![0u8; TOTAL];
    tokio::time::timeout(Duration::from_secs(60), r.read_exact(&mut back))
        .await
        .expect("the stream stalled")
        .unwrap();
    let took = t.elapsed();
    let _w = writer.await.unwrap();
    assert!(back == data, "bytes came back changed or out of order");
    // Generous for a loaded machine, and still far below the 12.8 s of a stop-and-wait.
    assert!(
        took < Duration::from_secs(6),
        "32 MiB took {took:?}: {:.1} MB/s",
        TOTAL as f64 / took.as_secs_f64() / 1e6
    );
    assert!(took >= Duration::from_millis(50), "{took:?}");
}

/// One direction on in-memory pipes in paused time, so the timing is exact:
/// 500 chunks sent 1 ms apart each arrive 100 ms after they were sent (not one
/// per 100 ms), in order, and the EOF after them 100 ms late too.
#[tokio::test(start_paused = true)]
async fn pump_delays_each_chunk_and_overlaps_them() {
    let delay = Duration::from_millis(100);
    let (mut client, mut proxy_in) = tokio::io::duplex(1 << 20);
    let (mut proxy_out, mut sink) = tokio::io::duplex(1 << 20);
    let (_paused_tx, paused) = watch::channel(false);
    let (_delay_tx, delays) = watch::channel(Some(delay));
    let forward = tokio::spawn(async move {
        let switches = (paused, delays);
        pump(
            &mut proxy_in,
            &mut proxy_out,
            switches,
            tokio::time::sleep_until,
            &AtomicU64::new(0),
        )
        .await
    });

    const CHUNKS: u32 = 500;
    let start = tokio::time::Instant::now();
    let sender = tokio::spawn(async move {
        for i in 0..CHUNKS {
            let mut chunk = [0u8; 100];
            chunk[..4].copy_from_slice(&i.to_be_bytes());
            client.write_all(&chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(client); // EOF
    });
    for i in 0..CHUNKS {
        let mut chunk = [0u8; 100];
        sink.read_exact(&mut chunk).await.unwrap();
        assert_eq!(chunk[..4], i.to_be_bytes(), "chunk {i} out of order");
        // Sent at i ms (the sender's sleeps are exact in paused time); the timer's
        // millisecond ticks may add one.
        let late = start.elapsed() - Duration::from_millis(i as u64);
        assert!(
            late >= delay && late <= delay + Duration::from_millis(2),
            "chunk {i} arrived {late:?} after it was sent"
        );
    }
    let mut rest = Vec::new();
    sink.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    assert!(start.elapsed() >= Duration::from_millis(CHUNKS as u64 - 1) + delay);
    sender.await.unwrap();
    forward.await.unwrap().unwrap();
}
