//! HTTP/2 connection timing on the deterministic runtime (`roadrunner_core::sim`):
//! the client is the codec crate's own frame encoder over an in-memory connection, so
//! each instant asserted is exact whatever the machine's load.

mod h2_wire;

use std::time::Duration;

use bytes::BytesMut;
use roadrunner_core::sim::{Client, Sim};
use roadrunner_core::{
    DrainOutcome, Http2Options, Options, Protocol, Request, RequestExt, Route, Routes,
};
use roadrunner_h2::frame::{self, Frame};
use roadrunner_h2::ErrorCode;
use roadrunner_tests::unique_name;

use h2_wire::{block, hello};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn start(
    sim: &Sim,
    f: impl FnOnce(&mut Options),
) -> (roadrunner_core::Listener, roadrunner_core::sim::Connector) {
    let routes = Routes::list([Route::get("/slow", |req: Request| {
        let nap = req.sleep(ms(300));
        async move {
            nap.await;
            "slow done"
        }
    })]);
    let mut o = Options::new(0, routes);
    o.protocols = vec![Protocol::Http2(Http2Options::default())];
    f(&mut o);
    sim.start(&unique_name("sim-h2"), o)
        .expect("listener starts")
}

/// A GET of `path` on `stream`.
fn get(stream: u32, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_headers(stream, &block("GET", path, &[]), true, 16_384, &mut out);
    out
}

/// Reads frames until `done` says so or the server closes; all frames read.
async fn frames_until(client: &mut Client, mut done: impl FnMut(&Frame) -> bool) -> Vec<Frame> {
    let (mut wire, mut frames, mut buf) = (BytesMut::new(), Vec::new(), vec![0u8; 16 << 10]);
    loop {
        while let Ok(Some(f)) = frame::decode(&mut wire, 1 << 24) {
            let stop = done(&f);
            frames.push(f);
            if stop {
                return frames;
            }
        }
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return frames,
            Ok(n) => wire.extend_from_slice(&buf[..n]),
        }
    }
}

/// The drain outcome and the frames the client saw, for a drain notice sent 100 ms
/// after a `/slow` request (300 ms); `answer_ping`: the client answers the shutdown
/// PING at once.
fn drain_during_slow_request(answer_ping: bool) -> (Sim, DrainOutcome, Vec<Frame>) {
    let sim = Sim::new();
    let (listener, connector) = start(&sim, |o| o.keep_alive_timeout = Duration::from_secs(60));
    let mut client = connector.connect().expect("connect");
    let (outcome, frames) = sim.block_on(async {
        let mut hi = hello();
        hi.extend_from_slice(&get(1, "/slow"));
        client.write_all(hi).await.expect("request");
        sim.sleep(ms(100)).await;
        let read = async {
            let mut seen = Vec::new();
            loop {
                let frames =
                    frames_until(&mut client, |f| matches!(f, Frame::Ping { ack: false, .. }))
                        .await;
                let ping = frames.iter().find_map(|f| match f {
                    Frame::Ping { ack: false, data } => Some(*data),
                    _ => None,
                });
                seen.extend(frames);
                match ping {
                    Some(data) if answer_ping => {
                        let mut out = Vec::new();
                        frame::encode_ping(true, data, &mut out);
                        client.write_all(out).await.expect("ping ack");
                    }
                    Some(_) => {}
                    None => return seen,
                }
            }
        };
        smol::future::zip(listener.drain(Duration::from_secs(20)), read).await
    });
    (sim, outcome, frames)
}

fn goaways(frames: &[Frame]) -> Vec<u32> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::GoAway {
                last_stream, code, ..
            } => {
                assert_eq!(*code, ErrorCode::NO_ERROR);
                Some(*last_stream)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn drain_announces_goaway_and_closes_when_the_stream_in_flight_is_done() {
    let (sim, outcome, frames) = drain_during_slow_request(true);
    assert_eq!(outcome, DrainOutcome::Drained);
    // The announcing GOAWAY, then (after the PING's answer) the one naming stream 1.
    assert_eq!(goaways(&frames), [(1 << 31) - 1, 1]);
    assert!(
        frames.iter().any(|f| matches!(
            f,
            Frame::Data {
                stream: 1,
                end_stream: true,
                ..
            }
        )),
        "the stream in flight finished: {frames:?}"
    );
    assert_eq!(sim.elapsed(), ms(300), "closed as soon as /slow answered");
}

#[test]
fn a_client_that_never_answers_the_ping_gets_the_final_goaway_a_second_later() {
    let (sim, outcome, frames) = drain_during_slow_request(false);
    assert_eq!(outcome, DrainOutcome::Drained);
    assert_eq!(goaways(&frames), [(1 << 31) - 1, 1]);
    assert_eq!(
        sim.elapsed(),
        ms(1100),
        "the notice at 100 ms plus one second of grace"
    );
}
