//! WebSocket session timing and backpressure on the deterministic runtime: the drain's
//! 1001 just before its deadline, the idle timeout, the closing handshake's timeout,
//! and a client that does not read holding the handler's sends back. Each instant is
//! exact.

mod ws_frames;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use roadrunner_core::sim::{Client, Connector, Sim};
use roadrunner_core::websocket::{websocket, Message, WebSocket, WsConfig, WsEvent};
use roadrunner_core::{DrainOutcome, Listener, Options, Request, Route, Routes};
use roadrunner_tests::unique_name;
use ws_frames::{client_frame, server_frame};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const HANDSHAKE: &str = "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// Sends of 64 KiB made by the `/flood` session so far.
static SENT: AtomicUsize = AtomicUsize::new(0);
const PIECE: usize = 64 * 1024;

fn start(sim: &Sim, config: WsConfig) -> (Listener, Connector) {
    let config2 = config.clone();
    let routes = Routes::list([
        Route::get(
            "/ws",
            websocket(config, |_req: Request, mut ws: WebSocket| async move {
                while let Some(event) = ws.next().await {
                    if let WsEvent::Text(text) = event {
                        let _ = ws.send(Message::Text(text)).await;
                    }
                }
            }),
        ),
        Route::get(
            "/flood",
            websocket(config2, |_req: Request, mut ws: WebSocket| async move {
                let piece = bytes::Bytes::from(vec![7u8; PIECE]);
                while ws.send(piece.clone()).await.is_ok() {
                    SENT.fetch_add(1, Ordering::SeqCst);
                }
            }),
        ),
    ]);
    sim.start(&unique_name("sim-ws"), Options::new(0, routes))
        .expect("listener starts")
}

/// Upgrades `client` on `path`; what came after the 101's head.
async fn upgrade(client: &mut Client, path: &str) -> BytesMut {
    client
        .write_all(HANDSHAKE.replace("/ws", path))
        .await
        .expect("handshake");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = client.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed during the handshake");
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(
                got.starts_with(b"HTTP/1.1 101"),
                "{}",
                String::from_utf8_lossy(&got)
            );
            return BytesMut::from(&got[end + 4..]);
        }
    }
}

/// The next server frame, or `None` once the server closed the connection.
async fn next_frame(client: &mut Client, wire: &mut BytesMut) -> Option<(u8, Vec<u8>)> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(frame) = server_frame(wire) {
            return Some(frame);
        }
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => wire.extend_from_slice(&buf[..n]),
        }
    }
}

fn close_code(payload: &[u8]) -> u16 {
    u16::from_be_bytes([payload[0], payload[1]])
}

#[test]
fn a_drain_closes_sessions_with_1001_just_before_its_deadline() {
    let sim = Sim::new();
    let (listener, connector) = start(&sim, WsConfig::default());
    let mut client = connector.connect().expect("connect");
    let (outcome, close, closed_at) = sim.block_on(async {
        let mut wire = upgrade(&mut client, "/ws").await;
        client
            .write_all(client_frame(0x1, b"still here"))
            .await
            .expect("text");
        assert_eq!(
            next_frame(&mut client, &mut wire).await,
            Some((0x1, b"still here".to_vec()))
        );
        let start = sim.elapsed();
        let client_side = async {
            let close = next_frame(&mut client, &mut wire)
                .await
                .expect("a close frame");
            let at = sim.elapsed() - start;
            // The client answers, completing the closing handshake.
            client
                .write_all(client_frame(0x8, &close.1[..2]))
                .await
                .expect("close answer");
            assert_eq!(next_frame(&mut client, &mut wire).await, None);
            (close, at)
        };
        let (outcome, (close, at)) =
            smol::future::zip(listener.drain(Duration::from_secs(2)), client_side).await;
        (outcome, close, at)
    });
    assert_eq!(close.0, 0x8);
    assert_eq!(close_code(&close.1), 1001);
    assert_eq!(closed_at, ms(1900), "100 ms before the 2 s deadline");
    assert_eq!(outcome, DrainOutcome::Drained);
}

#[test]
fn an_idle_session_is_closed_with_1001_and_a_silent_client_cut_after_close_timeout() {
    let sim = Sim::new();
    let config = WsConfig {
        idle_timeout: Some(ms(500)),
        close_timeout: ms(300),
        ..WsConfig::default()
    };
    let (_listener, connector) = start(&sim, config);
    let mut client = connector.connect().expect("connect");
    let (close, close_at, end_at) = sim.block_on(async {
        let mut wire = upgrade(&mut client, "/ws").await;
        let start = sim.elapsed();
        let close = next_frame(&mut client, &mut wire)
            .await
            .expect("a close frame");
        let close_at = sim.elapsed() - start;
        // No answer: the server gives up on the handshake.
        assert_eq!(next_frame(&mut client, &mut wire).await, None);
        (close, close_at, sim.elapsed() - start)
    });
    assert_eq!(close.0, 0x8);
    assert_eq!(close_code(&close.1), 1001);
    assert_eq!(close_at, ms(500));
    assert_eq!(end_at, ms(800));
}

#[test]
fn a_client_that_does_not_read_holds_the_handlers_sends_back() {
    let sim = Sim::new();
    let config = WsConfig {
        max_buffered: 256 * 1024,
        ..WsConfig::default()
    };
    let (_listener, connector) = start(&sim, config);
    let mut client = connector.connect_with_capacity(64 * 1024).expect("connect");
    let mut wire = sim.block_on(upgrade(&mut client, "/flood"));
    sim.advance(Duration::from_secs(10));
    // What can be in flight: the client's pipe, the upgrade pipe (64 KiB), the
    // session's own queue (max_buffered) and the message being queued.
    let stalled = SENT.load(Ordering::SeqCst);
    let bound = (64 * 1024 + 64 * 1024 + 256 * 1024) / PIECE + 2;
    assert!(
        stalled <= bound,
        "{stalled} sends through a client that does not read"
    );
    sim.advance(Duration::from_secs(10));
    assert_eq!(SENT.load(Ordering::SeqCst), stalled, "the handler waits");
    // Reading lets the handler go on, and every message arrives whole.
    let more = sim.block_on(async {
        for _ in 0..stalled + 4 {
            let (opcode, payload) = next_frame(&mut client, &mut wire).await.expect("a message");
            assert_eq!((opcode, payload.len()), (0x2, PIECE));
        }
        SENT.load(Ordering::SeqCst)
    });
    assert!(more > stalled + 3, "{more} after reading, {stalled} before");
}

#[test]
fn a_session_that_keeps_talking_is_not_idle_and_closes_idle_after_its_last_message() {
    let sim = Sim::new();
    let config = WsConfig {
        idle_timeout: Some(ms(500)),
        ..WsConfig::default()
    };
    let (_listener, connector) = start(&sim, config);
    let mut client = connector.connect().expect("connect");
    let (last, close, close_at) = sim.block_on(async {
        let mut wire = upgrade(&mut client, "/ws").await;
        // A message every 300 ms for three seconds: the idle timer keeps moving.
        for i in 0..10 {
            let text = format!("message {i}");
            client
                .write_all(client_frame(0x1, text.as_bytes()))
                .await
                .expect("text");
            assert_eq!(
                next_frame(&mut client, &mut wire).await,
                Some((0x1, text.into_bytes())),
                "the session is still open at {:?}",
                sim.elapsed()
            );
            sim.sleep(ms(300)).await;
        }
        let last = sim.elapsed() - ms(300);
        let close = next_frame(&mut client, &mut wire)
            .await
            .expect("a close frame");
        (last, close, sim.elapsed())
    });
    assert_eq!(close.0, 0x8);
    assert_eq!(close_code(&close.1), 1001);
    assert_eq!(
        close_at,
        last + ms(500),
        "idle_timeout after the last message"
    );
}
