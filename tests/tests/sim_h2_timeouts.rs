//! HTTP/2 read deadlines on the deterministic runtime: `request_timeout` for a fresh
//! connection, an unfinished header block and a silent request body;
//! `keep_alive_timeout` once served; the slow-client guard (`min_bytes_per_second`).
//! Each test asserts the exact instant of the close and the GOAWAY that announces it.

mod h2_wire;
mod hibernations;

use std::time::Duration;

use bytes::BytesMut;
use roadrunner_core::sim::{Client, Sim};
use roadrunner_core::{Http2Options, Options, Protocol, Request, RequestExt, Route, Routes};
use roadrunner_h2::frame::{self, Frame};
use roadrunner_h2::ErrorCode;
use roadrunner_tests::unique_name;

use h2_wire::{block, hello};
use hibernations::Hibernations;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `request_timeout` 400 ms, `keep_alive_timeout` 250 ms, then `f`'s changes.
fn start(
    sim: &Sim,
    f: impl FnOnce(&mut Options),
) -> (roadrunner_core::Listener, roadrunner_core::sim::Connector) {
    let routes = Routes::list([
        Route::get("/", |_req: Request| async { "hi" }),
        Route::get("/think", |req: Request| {
            let nap = req.sleep(ms(3000));
            async move {
                nap.await;
                "thought"
            }
        }),
        Route::post("/upload", |req: Request| async move {
            let body = req.into_body().to_bytes().await.unwrap_or_default();
            format!("{} bytes", body.len())
        }),
    ]);
    let mut o = Options::new(0, routes);
    o.protocols = vec![Protocol::Http2(Http2Options::default())];
    o.request_timeout = ms(400);
    o.keep_alive_timeout = ms(250);
    o.min_bytes_per_second = 0;
    f(&mut o);
    sim.start(&unique_name("sim-h2-timeouts"), o)
        .expect("listener starts")
}

/// Reads frames until the server closes.
async fn frames_until_close(client: &mut Client) -> Vec<Frame> {
    let (mut wire, mut frames, mut buf) = (BytesMut::new(), Vec::new(), vec![0u8; 16 << 10]);
    loop {
        while let Ok(Some(f)) = frame::decode(&mut wire, 1 << 24) {
            frames.push(f);
        }
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return frames,
            Ok(n) => wire.extend_from_slice(&buf[..n]),
        }
    }
}

/// The GOAWAY the server closed with: its last stream and code.
fn goaway(frames: &[Frame]) -> Option<(u32, ErrorCode)> {
    frames.iter().find_map(|f| match f {
        Frame::GoAway {
            last_stream, code, ..
        } => Some((*last_stream, *code)),
        _ => None,
    })
}

fn answered(frames: &[Frame], stream: u32) -> bool {
    frames.iter().any(|f| match f {
        Frame::Data {
            stream: s,
            end_stream: true,
            ..
        } => *s == stream,
        _ => false,
    })
}

#[test]
fn a_fresh_connection_without_a_request_closes_at_request_timeout_not_keep_alive() {
    let sim = Sim::new();
    let (_listener, connector) = start(&sim, |_| {});
    let mut client = connector.connect().expect("connect");
    let frames = sim.block_on(async {
        client.write_all(hello()).await.expect("hello");
        frames_until_close(&mut client).await
    });
    assert_eq!(sim.elapsed(), ms(400), "request_timeout from the accept");
    assert_eq!(goaway(&frames), Some((0, ErrorCode::NO_ERROR)));
}

#[test]
fn a_served_connection_closes_at_keep_alive_timeout_after_its_last_stream() {
    let sim = Sim::new();
    let (_listener, connector) = start(&sim, |_| {});
    let mut client = connector.connect().expect("connect");
    let frames = sim.block_on(async {
        let mut hi = hello();
        frame::encode_headers(1, &block("GET", "/", &[]), true, 16_384, &mut hi);
        client.write_all(hi).await.expect("request");
        frames_until_close(&mut client).await
    });
    assert!(answered(&frames, 1), "{frames:?}");
    assert_eq!(sim.elapsed(), ms(250), "keep_alive_timeout once served");
    assert_eq!(goaway(&frames), Some((1, ErrorCode::NO_ERROR)));
}

#[test]
fn a_handler_thinking_longer_than_every_read_deadline_is_not_cut_off() {
    let sim = Sim::new();
    let (_listener, connector) = start(&sim, |o| o.min_bytes_per_second = 1000);
    let mut client = connector.connect().expect("connect");
    let frames = sim.block_on(async {
        let mut hi = hello();
        frame::encode_headers(1, &block("GET", "/think", &[]), true, 16_384, &mut hi);
        client.write_all(hi).await.expect("request");
        frames_until_close(&mut client).await
    });
    assert!(answered(&frames, 1), "{frames:?}");
    assert_eq!(sim.elapsed(), ms(3250), "answered at 3 s, then keep-alive");
}

#[test]
fn a_header_block_left_unfinished_closes_at_request_timeout() {
    let sim = Sim::new();
    let (_listener, connector) = start(&sim, |o| o.keep_alive_timeout = ms(60_000));
    let mut client = connector.connect().expect("connect");
    let frames = sim.block_on(async {
        let mut hi = hello();
        frame::encode_headers(1, &block("GET", "/", &[]), true, 16_384, &mut hi);
        client.write_all(hi).await.expect("request");
        sim.sleep(ms(100)).await;
        // HEADERS without END_HEADERS: a CONTINUATION is owed and never comes.
        let block = block("GET", "/", &[]);
        let mut frame_bytes = Vec::new();
        frame::encode_headers(3, &block, true, 16_384, &mut frame_bytes);
        frame_bytes[4] &= !0x4;
        client.write_all(frame_bytes).await.expect("half a request");
        frames_until_close(&mut client).await
    });
    assert!(answered(&frames, 1));
    assert_eq!(sim.elapsed(), ms(500), "request_timeout from the HEADERS");
    assert_eq!(goaway(&frames), Some((1, ErrorCode::NO_ERROR)));
}

/// A POST of `len` bytes sent `piece` bytes every 100 ms, then silence once `sent`
/// bytes are out; the frames the server sent until it closed.
fn dribbled_upload(
    sim: &Sim,
    client: &mut Client,
    len: usize,
    piece: usize,
    sent: usize,
) -> Vec<Frame> {
    sim.block_on(async {
        let mut hi = hello();
        let length = len.to_string();
        let head = block("POST", "/upload", &[("content-length", &length)]);
        frame::encode_headers(1, &head, false, 16_384, &mut hi);
        client.write_all(hi).await.expect("request head");
        let (mut wire, mut frames, mut buf) = (BytesMut::new(), Vec::new(), vec![0u8; 16 << 10]);
        let (mut out, mut tick) = (0, ms(100));
        loop {
            // Whatever the server says until the next piece is due.
            let wait = tick.saturating_sub(sim.elapsed());
            let read = smol::future::or(async { Some(client.read(&mut buf).await) }, async {
                sim.sleep(wait).await;
                None
            })
            .await;
            match read {
                Some(Ok(0) | Err(_)) => break,
                Some(Ok(n)) => wire.extend_from_slice(&buf[..n]),
                None => {
                    tick += ms(100);
                    if out < sent {
                        let n = piece.min(sent - out);
                        out += n;
                        let mut data = Vec::new();
                        frame::encode_data(1, &vec![b'x'; n], out == len, &mut data);
                        // The server may have closed already; its frames say so.
                        let _ = client.write_all(data).await;
                    }
                }
            }
        }
        while let Ok(Some(f)) = frame::decode(&mut wire, 1 << 24) {
            frames.push(f);
        }
        frames
    })
}

#[test]
fn a_body_slower_than_min_bytes_per_second_fails_the_rate_check() {
    let sim = Sim::new();
    let (_listener, connector) = start(&sim, |o| {
        o.min_bytes_per_second = 500;
        o.rate_check_interval = ms(1000);
    });
    let mut client = connector.connect().expect("connect");
    // 100 bytes/s against 500: the first check, a second in, fails it.
    let frames = dribbled_upload(&sim, &mut client, 10_000, 10, 10_000);
    assert!(!answered(&frames, 1));
    assert_eq!(sim.elapsed(), ms(1000));
    assert_eq!(goaway(&frames), Some((1, ErrorCode::NO_ERROR)));
}

#[test]
fn a_body_fast_enough_passes_the_rate_check() {
    let sim = Sim::new();
    let (_listener, connector) = start(&sim, |o| {
        o.min_bytes_per_second = 500;
        o.rate_check_interval = ms(1000);
    });
    let mut client = connector.connect().expect("connect");
    // 1000 bytes/s for 2.5 s.
    let frames = dribbled_upload(&sim, &mut client, 2500, 100, 2500);
    assert!(answered(&frames, 1), "{frames:?}");
    assert_eq!(
        sim.elapsed(),
        ms(2750),
        "answered at 2.5 s, then keep-alive"
    );
}

#[test]
fn a_body_that_stops_arriving_closes_at_request_timeout_after_its_last_byte() {
    let sim = Sim::new();
    let (_listener, connector) = start(&sim, |o| o.keep_alive_timeout = ms(60_000));
    let mut client = connector.connect().expect("connect");
    // Three pieces, the last at 300 ms, then nothing.
    let frames = dribbled_upload(&sim, &mut client, 1000, 10, 30);
    assert!(!answered(&frames, 1));
    assert_eq!(sim.elapsed(), ms(700));
    assert_eq!(goaway(&frames), Some((1, ErrorCode::NO_ERROR)));
}

#[test]
fn an_idle_connection_hibernates_after_hibernate_after_and_serves_on() {
    let sim = Sim::new();
    let (_listener, connector) = start(&sim, |o| {
        o.keep_alive_timeout = ms(60_000);
        o.hibernate_after = Some(ms(50));
    });
    let (seen, _scope) = Hibernations::record(&sim);
    let mut client = connector.connect().expect("connect");
    let mut wire = BytesMut::new();
    let mut buf = vec![0u8; 16 << 10];
    let mut request = |client: &mut Client, stream: u32, first: bool| {
        let mut out = if first { hello() } else { Vec::new() };
        let head = block("POST", "/upload", &[("content-length", "100000")]);
        frame::encode_headers(stream, &head, false, 16_384, &mut out);
        // Larger than a read, so buffers are needed again after hibernating.
        for piece in 0..10 {
            frame::encode_data(stream, &[b'x'; 10_000], piece == 9, &mut out);
        }
        sim.block_on(async {
            client.write_all(out).await.expect("request");
            loop {
                while let Ok(Some(f)) = frame::decode(&mut wire, 1 << 24) {
                    if let Frame::Data {
                        stream: s, data, ..
                    } = f
                    {
                        if s == stream {
                            return data;
                        }
                    }
                }
                let n = client.read(&mut buf).await.expect("read");
                assert!(n > 0, "closed");
                wire.extend_from_slice(&buf[..n]);
            }
        })
    };
    assert_eq!(&request(&mut client, 1, true)[..], b"100000 bytes");
    let idle_from = sim.elapsed();
    sim.advance(ms(49));
    assert!(seen.of(client.addr()).is_empty(), "hibernated early");
    sim.advance(ms(1));
    assert_eq!(seen.of(client.addr()), [idle_from + ms(50)]);
    sim.advance(ms(500));
    assert_eq!(seen.of(client.addr()).len(), 1, "once per idle stretch");
    assert_eq!(&request(&mut client, 3, false)[..], b"100000 bytes");
    let idle_again = sim.elapsed();
    sim.advance(ms(50));
    assert_eq!(
        seen.of(client.addr()),
        [idle_from + ms(50), idle_again + ms(50)]
    );
}
