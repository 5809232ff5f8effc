//! The connection timeouts, the slow-client guard, `send_timeout`, `hibernate_after`
//! and `drain` on the deterministic runtime (`roadrunner_core::sim`): in-memory
//! connections on a virtual clock that jumps to the next timer whenever nothing else
//! can happen.
//!
//! No test here waits for real time, so each asserts the exact virtual instant at which
//! the server acts (a stalled head closed at `request_timeout` after the accept, to
//! the nanosecond) whatever the machine's load. `timeouts.rs` runs the same scenarios
//! on real sockets, with generous bounds, to prove the adapters' timers work.

mod kinds;

mod hibernations;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use roadrunner_core::sim::{Client, Closed, Connector, Sim, DEFAULT_CAPACITY};
use roadrunner_core::{
    Body, DrainOutcome, Frame, Listener, Options, Request, RequestExt, Response, Route, Routes,
};
use roadrunner_tests::{echo, get_req, parse_all, parse_response, unique_name, Parsed, RawResp};
use smol::future;

use hibernations::Hibernations;

/// How long `/slow` takes.
const SLOW: Duration = Duration::from_millis(300);
/// The size of `/big` and `/stream`: far more than a connection buffers.
const BIG: usize = 1 << 20;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A listener on a fresh simulation. `started` counts the `/slow` and `/forever`
/// handlers that have begun, and `posted` the `POST /` handlers.
struct World {
    sim: Sim,
    listener: Listener,
    connector: Connector,
    started: Arc<AtomicUsize>,
    posted: Arc<AtomicUsize>,
}

fn routes(started: &Arc<AtomicUsize>, posted: &Arc<AtomicUsize>) -> Routes {
    let (slow_started, forever_started) = (started.clone(), started.clone());
    let posted = posted.clone();
    let big = Bytes::from(vec![b'x'; BIG]);
    Routes::list([
        Route::post("/", move |req: Request| {
            posted.fetch_add(1, Ordering::SeqCst);
            echo(req)
        }),
        Route::post("/echo", echo),
        // The listener's timer, so `SLOW` passing exactly on the virtual clock also
        // shows that `req.sleep` waits on the serving runtime.
        Route::get("/slow", move |req: Request| {
            slow_started.fetch_add(1, Ordering::SeqCst);
            async move {
                req.sleep(SLOW).await;
                "slow done"
            }
        }),
        Route::get("/forever", move |_req: Request| {
            forever_started.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<&'static str>()
        }),
        Route::get("/big", move |_req: Request| {
            let big = big.clone();
            async move { (http::StatusCode::OK, big) }
        }),
        Route::get("/stream", |_req: Request| async {
            let frames =
                (0..BIG / (16 << 10)).map(|_| Frame::Data(Bytes::from(vec![b's'; 16 << 10])));
            Response::new(Body::from_stream(smol::stream::iter(frames)))
        }),
        Route::get("/*rest", |_req: Request| async { "ok" }),
    ])
}

/// Starts a listener with the defaults, the slow-client guard off unless `f` turns it
/// on (so that only the timer under test can close a connection).
fn world(f: impl FnOnce(&mut Options)) -> World {
    let sim = Sim::new();
    let (started, posted) = (Arc::default(), Arc::default());
    let mut o = Options::new(0, routes(&started, &posted));
    o.min_bytes_per_second = 0;
    f(&mut o);
    let (listener, connector) = sim.start(&unique_name("sim"), o).expect("listener starts");
    World {
        sim,
        listener,
        connector,
        started,
        posted,
    }
}

impl World {
    fn connect(&self) -> Peer {
        self.connect_with_capacity(DEFAULT_CAPACITY)
    }

    fn connect_with_capacity(&self, capacity: usize) -> Peer {
        Peer {
            client: self
                .connector
                .connect_with_capacity(capacity)
                .expect("connect"),
            buf: Vec::new(),
        }
    }

    fn active(&self) -> usize {
        self.listener.info().active_clients
    }
}

/// A client connection with a buffer for responses read in part.
struct Peer {
    client: Client,
    buf: Vec<u8>,
}

impl Peer {
    async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.client.write_all(bytes).await.expect("send");
    }

    /// The next response; panics if the server closes first.
    async fn response(&mut self) -> RawResp {
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            if let Parsed::Done(r, used) = parse_response(&self.buf, false, false) {
                self.buf.drain(..used);
                return r;
            }
            let n = self.client.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Everything left until the server closes, and how it closed.
    async fn until_close(&mut self) -> (Vec<u8>, Closed) {
        let (rest, how) = self.client.read_until_close().await;
        let mut all = std::mem::take(&mut self.buf);
        all.extend_from_slice(&rest);
        (all, how)
    }

    /// Sends `bytes` one write of `step` bytes every `every`, watching for the server
    /// closing in between. Returns how many bytes were sent before it closed, or `None`
    /// if all were (what it sent back meanwhile is left in `buf`).
    async fn trickle(
        &mut self,
        sim: &Sim,
        bytes: &[u8],
        step: usize,
        every: Duration,
    ) -> Option<usize> {
        let mut scratch = vec![0u8; 16 << 10];
        for (i, piece) in bytes.chunks(step).enumerate() {
            if self.client.write_all(piece).await.is_err() {
                return Some(i * step);
            }
            if (i + 1) * step >= bytes.len() {
                break;
            }
            let read = future::or(
                async { Some(self.client.read(&mut scratch).await) },
                async {
                    sim.sleep(every).await;
                    None
                },
            )
            .await;
            match read {
                None => {}
                Some(Ok(0) | Err(_)) => return Some((i + 1) * step),
                Some(Ok(n)) => panic!(
                    "a response to an incomplete request: {:?}",
                    String::from_utf8_lossy(&scratch[..n])
                ),
            }
        }
        None
    }
}

/// A timed-out connection may be sent a 408, or nothing; never anything else.
fn assert_408_or_nothing(bytes: &[u8]) {
    if !bytes.is_empty() {
        let all = parse_all(bytes);
        assert!(all.len() == 1 && all[0].status == 408, "{all:?}");
    }
}

#[test]
fn request_timeout_closes_a_stalled_head_at_its_deadline_from_accept() {
    let timeout = ms(200);
    let w = world(|o| o.request_timeout = timeout);
    let mut peer = w.connect();
    let accepted = w.sim.elapsed();
    let (bytes, _how) = w.sim.block_on(async {
        // The first byte comes later than the accept: the deadline does not move.
        w.sim.sleep(ms(50)).await;
        peer.send("GET / HTTP/1.1\r\nHo").await;
        peer.until_close().await
    });
    assert_eq!(w.sim.elapsed() - accepted, timeout);
    assert_408_or_nothing(&bytes);
    assert_eq!(w.active(), 0);
}

#[test]
fn request_timeout_counts_from_accept_on_a_silent_connection() {
    let timeout = ms(200);
    let w = world(|o| o.request_timeout = timeout);
    let mut peer = w.connect();
    let accepted = w.sim.elapsed();
    w.sim.advance(timeout - ms(1));
    assert_eq!(w.active(), 1, "closed before request_timeout");
    let (bytes, _how) = w.sim.block_on(peer.until_close());
    assert_eq!(w.sim.elapsed() - accepted, timeout);
    assert_408_or_nothing(&bytes);
}

#[test]
fn request_timeout_applies_to_the_next_head_on_a_kept_alive_connection() {
    let timeout = ms(200);
    let w = world(|o| {
        o.request_timeout = timeout;
        o.keep_alive_timeout = Duration::from_secs(20);
    });
    let mut peer = w.connect();
    let (bytes, began) = w.sim.block_on(async {
        peer.send(get_req("/")).await;
        assert_eq!(peer.response().await.status, 200);
        // Idle under the long keep_alive_timeout; once the next head has begun,
        // request_timeout governs it.
        w.sim.sleep(Duration::from_secs(1)).await;
        peer.send("GET / HTTP/1.1\r\nHo").await;
        let began = w.sim.elapsed();
        (peer.until_close().await.0, began)
    });
    assert_eq!(w.sim.elapsed() - began, timeout);
    assert_408_or_nothing(&bytes);
}

#[test]
fn keep_alive_timeout_closes_an_idle_connection_and_not_before() {
    let idle = ms(200);
    let w = world(|o| {
        o.keep_alive_timeout = idle;
        o.request_timeout = Duration::from_secs(20);
    });
    let mut peer = w.connect();
    let (bytes, answered) = w.sim.block_on(async {
        peer.send(get_req("/")).await;
        assert_eq!(peer.response().await.status, 200);
        // One millisecond short of the idle timeout, the connection still serves.
        w.sim.sleep(idle - ms(1)).await;
        peer.send(get_req("/again")).await;
        let r = peer.response().await;
        assert_eq!(r.status, 200);
        assert!(!r.has_token("connection", "close"), "{r:?}");
        let answered = w.sim.elapsed();
        (peer.until_close().await.0, answered)
    });
    assert_eq!(answered, idle - ms(1));
    assert_eq!(w.sim.elapsed() - answered, idle);
    assert!(bytes.is_empty(), "{:?}", String::from_utf8_lossy(&bytes));
}

#[test]
fn slow_loris_is_cut_at_the_first_rate_check() {
    let interval = ms(100);
    let w = world(|o| {
        o.min_bytes_per_second = 1000;
        o.rate_check_interval = interval;
        o.request_timeout = Duration::from_secs(20);
    });
    let req = get_req("/slow-loris");
    let mut peer = w.connect();
    // One byte every 50 ms: 20 B/s against the 1000 B/s owed.
    let cut = w
        .sim
        .block_on(peer.trickle(&w.sim, req.as_bytes(), 1, ms(50)));
    let sent = cut.unwrap_or_else(|| panic!("all {} bytes were sent uncut", req.len()));
    assert!(sent < req.len(), "cut only at the last byte");
    // The check runs `interval` after the first byte, which came with the accept.
    assert_eq!(w.sim.elapsed(), interval);
    assert_eq!(w.active(), 0);
    assert!(
        peer.buf.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&peer.buf)
    );
}

#[test]
fn a_client_trickling_fast_enough_is_not_cut() {
    let w = world(|o| {
        o.min_bytes_per_second = 1000;
        o.rate_check_interval = ms(100);
        o.request_timeout = Duration::from_secs(20);
    });
    // 10 bytes every 5 ms (2000 B/s) through a ~1 KB head: five rate checks.
    let req = format!(
        "GET /fast HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(1000)
    );
    let mut peer = w.connect();
    let cut = w
        .sim
        .block_on(peer.trickle(&w.sim, req.as_bytes(), 10, ms(5)));
    assert_eq!(cut, None, "cut off after {:?}", w.sim.elapsed());
    let last_byte = w.sim.elapsed();
    assert!(
        last_byte >= ms(500),
        "{last_byte:?}: fewer checks than meant"
    );
    let r = w.sim.block_on(peer.response());
    assert_eq!(r.status, 200);
    assert_eq!(w.sim.elapsed(), last_byte, "answered on the last byte");
    // Idle time between requests is not held against the client.
    w.sim.block_on(async {
        w.sim.sleep(ms(250)).await;
        peer.send(get_req("/")).await;
        assert_eq!(peer.response().await.status, 200);
    });
}

#[test]
fn a_stalled_body_is_closed_request_timeout_after_its_last_byte() {
    let timeout = ms(200);
    let w = world(|o| o.request_timeout = timeout);
    let mut peer = w.connect();
    let bytes = w.sim.block_on(async {
        peer.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345")
            .await;
        // A byte later moves the body's inactivity deadline.
        w.sim.sleep(ms(50)).await;
        peer.send("6").await;
        peer.until_close().await.0
    });
    assert_eq!(w.sim.elapsed(), ms(50) + timeout);
    assert_408_or_nothing(&bytes);
    assert_eq!(w.posted.load(Ordering::SeqCst), 0, "the handler ran");
}

#[test]
fn a_slow_body_is_cut_at_the_first_rate_check() {
    let interval = ms(100);
    let w = world(|o| {
        o.min_bytes_per_second = 1000;
        o.rate_check_interval = interval;
        o.request_timeout = Duration::from_secs(20);
    });
    let mut peer = w.connect();
    let cut = w.sim.block_on(async {
        peer.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n")
            .await;
        peer.trickle(&w.sim, &[b'x'; 40], 1, ms(50)).await
    });
    let sent = cut.unwrap_or_else(|| panic!("a 20 B/s body was read to the end"));
    assert!(sent < 40, "cut only at the last byte");
    // Measured from the head, which came with the accept.
    assert_eq!(w.sim.elapsed(), interval);
    assert_eq!(w.posted.load(Ordering::SeqCst), 0, "the handler ran");
}

#[test]
fn max_keep_alive_requests_closes_after_the_last() {
    let w = world(|o| o.max_keep_alive_requests = 3);
    let mut peer = w.connect();
    w.sim.block_on(async {
        for i in 1..=3 {
            peer.send(get_req("/")).await;
            let r = peer.response().await;
            assert_eq!(r.status, 200);
            assert_eq!(
                r.has_token("connection", "close"),
                i == 3,
                "response {i}: {r:?}"
            );
        }
        let (rest, how) = peer.until_close().await;
        assert!(rest.is_empty());
        assert_eq!(how, Closed::Eof);
    });
    // Pipelined: five requests in one write get exactly three answers.
    let mut peer = w.connect();
    let all = w.sim.block_on(async {
        peer.send(get_req("/").repeat(5)).await;
        parse_all(&peer.until_close().await.0)
    });
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all[2].has_token("connection", "close"));
    assert_eq!(w.sim.elapsed(), Duration::ZERO, "no timer was involved");
}

/// A client asks for `path` and reads nothing: the server fills the connection's
/// buffer, then gives up exactly `send_timeout` later.
fn send_timeout_cuts_a_client_that_stops_reading(path: &str) {
    let send_timeout = ms(300);
    let w = world(|o| o.send_timeout = send_timeout);
    let mut peer = w.connect();
    w.sim.block_on(peer.send(get_req(path)));
    w.sim.run_until_stalled();
    assert_eq!(peer.client.unread(), DEFAULT_CAPACITY, "the buffer is full");
    let stalled = w.sim.elapsed();
    w.sim.advance(send_timeout - ms(1));
    assert_eq!(w.active(), 1, "cut before send_timeout");
    w.sim.advance(ms(1));
    assert_eq!(w.active(), 0, "not cut at send_timeout");
    assert_eq!(w.sim.elapsed() - stalled, send_timeout);
    let (bytes, _how) = w.sim.block_on(peer.until_close());
    assert!(bytes.starts_with(b"HTTP/1.1 200"));
    assert!(
        bytes.len() < BIG,
        "the whole response arrived ({} bytes): nothing was cut",
        bytes.len()
    );
}

#[test]
fn send_timeout_cuts_a_client_that_stops_reading_a_buffered_response() {
    send_timeout_cuts_a_client_that_stops_reading("/big");
}

#[test]
fn send_timeout_cuts_a_client_that_stops_reading_a_streamed_response() {
    send_timeout_cuts_a_client_that_stops_reading("/stream");
}

#[test]
fn a_client_reading_slowly_but_steadily_outlives_send_timeout() {
    let send_timeout = ms(300);
    let w = world(|o| o.send_timeout = send_timeout);
    let mut peer = w.connect();
    let r = w.sim.block_on(async {
        peer.send(get_req("/big")).await;
        // Each pause is shorter than send_timeout; the whole read is far longer.
        let mut buf = vec![0u8; DEFAULT_CAPACITY];
        loop {
            w.sim.sleep(send_timeout - ms(1)).await;
            let n = peer.client.read(&mut buf).await.expect("read");
            assert!(n > 0, "cut after {:?}", w.sim.elapsed());
            peer.buf.extend_from_slice(&buf[..n]);
            if let Parsed::Done(r, _) = parse_response(&peer.buf, false, false) {
                return r;
            }
        }
    });
    assert_eq!(r.body.len(), BIG);
    assert!(w.sim.elapsed() > 4 * send_timeout);
}

#[test]
fn an_idle_connection_hibernates_after_hibernate_after_and_serves_on() {
    let after = ms(50);
    let w = world(|o| o.hibernate_after = Some(after));
    let (seen, _scope) = Hibernations::record(&w.sim);
    // Room for the whole echo below, so that the test can send it before reading.
    let mut peer = w.connect_with_capacity(256 << 10);
    let r = w.sim.block_on(async {
        peer.send(get_req("/first")).await;
        peer.response().await
    });
    assert_eq!(r.status, 200);
    let idle_from = w.sim.elapsed();
    w.sim.advance(after - ms(1));
    assert!(seen.of(peer.client.addr()).is_empty(), "hibernated early");
    w.sim.advance(ms(1));
    assert_eq!(seen.of(peer.client.addr()), [idle_from + after]);

    // The next request, with a body larger than a read (16 KiB), is served on fresh
    // buffers; then the connection hibernates again, once, and serves a pipelined pair.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut req = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    let r = w.sim.block_on(async {
        peer.send(req).await;
        peer.response().await
    });
    assert_eq!(r.status, 200);
    assert!(r.body == big, "the 100 000-byte echo came back different");
    let answered = w.sim.elapsed();
    w.sim.advance(Duration::from_secs(1));
    assert_eq!(
        seen.of(peer.client.addr()),
        [idle_from + after, answered + after]
    );
    let (first, second) = w.sim.block_on(async {
        peer.send(format!("{}{}", get_req("/one"), get_req("/two")))
            .await;
        (peer.response().await, peer.response().await)
    });
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(w.listener.info().requests_served, 4);
}

#[test]
fn drain_times_out_exactly_at_its_deadline_with_a_busy_connection() {
    let w = world(|_| {});
    let h = w.listener.handle();
    let mut straggler = w.connect();
    w.sim.block_on(straggler.send(get_req("/forever")));
    w.sim.run_until_stalled();
    assert_eq!(w.started.load(Ordering::SeqCst), 1);
    let began = w.sim.elapsed();
    let timeout = ms(200);
    let outcome = w.sim.block_on(w.listener.drain(timeout));
    assert_eq!(outcome, DrainOutcome::TimedOut { remaining: 1 });
    assert_eq!(w.sim.elapsed() - began, timeout);
    assert_eq!(h.info().active_clients, 0, "after TimedOut");
    // Its connection was ended by the time drain returned.
    let (rest, _how) = w.sim.block_on(straggler.until_close());
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert_eq!(w.sim.elapsed() - began, timeout);
}

#[test]
fn drain_returns_drained_as_soon_as_an_idle_connection_closes() {
    let w = world(|_| {});
    let mut idle = w.connect();
    w.sim.block_on(async {
        idle.send(get_req("/")).await;
        assert_eq!(idle.response().await.status, 200);
    });
    let began = w.sim.elapsed();
    let outcome = w.sim.block_on(w.listener.drain(Duration::from_secs(5)));
    assert_eq!(outcome, DrainOutcome::Drained);
    assert_eq!(w.sim.elapsed(), began, "drain waited");
    let (rest, how) = w.sim.block_on(idle.until_close());
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert_eq!(how, Closed::Eof);
}

#[test]
fn drain_waits_exactly_for_the_request_in_flight() {
    let w = world(|_| {});
    let h = w.listener.handle();
    let mut busy = w.connect();
    w.sim.block_on(busy.send(get_req("/slow")));
    w.sim.run_until_stalled();
    assert_eq!(w.started.load(Ordering::SeqCst), 1);
    let began = w.sim.elapsed();
    let connector = w.connector.clone();
    let (outcome, r) = w.sim.block_on(future::zip(
        w.listener.drain(Duration::from_secs(5)),
        async {
            // Once the tasks have run, at the same instant, the socket is closed.
            future::yield_now().await;
            let refused = connector.connect().map(|_| ()).unwrap_err();
            assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
            assert_eq!(w.sim.elapsed(), began);
            busy.response().await
        },
    ));
    assert_eq!(outcome, DrainOutcome::Drained);
    assert_eq!(w.sim.elapsed() - began, SLOW);
    assert_eq!((r.status, r.text()), (200, "slow done"));
    assert!(r.has_token("connection", "close"), "{r:?}");
    assert_eq!(h.info().active_clients, 0);
}

#[test]
fn notify_drain_closes_idle_connections_at_once_and_busy_ones_after_their_response() {
    let w = world(|_| {});
    let h = w.listener.handle();
    let mut idle = w.connect();
    let mut busy = w.connect();
    w.sim.block_on(async {
        idle.send(get_req("/")).await;
        assert_eq!(idle.response().await.status, 200);
        busy.send(get_req("/slow")).await;
    });
    w.sim.run_until_stalled();
    assert_eq!(w.started.load(Ordering::SeqCst), 1);
    let noticed = w.sim.elapsed();
    h.notify_drain();
    let (rest, how) = w.sim.block_on(idle.until_close());
    assert_eq!((rest.as_slice(), how), (&b""[..], Closed::Eof));
    assert_eq!(w.sim.elapsed(), noticed, "the idle connection closed late");
    let r = w.sim.block_on(busy.response());
    assert_eq!(w.sim.elapsed() - noticed, SLOW);
    assert!(r.has_token("connection", "close"), "{r:?}");
    assert_eq!(w.sim.block_on(busy.until_close()).0, b"");
    // New connections are still accepted and kept alive.
    let mut fresh = w.connect();
    w.sim.block_on(async {
        for i in 0..2 {
            fresh.send(get_req("/")).await;
            let r = fresh.response().await;
            assert_eq!(r.status, 200);
            assert!(!r.has_token("connection", "close"), "request {i}: {r:?}");
        }
    });
}

#[test]
fn a_tls_handshake_is_bounded_by_request_timeout_from_accept() {
    let timeout = ms(250);
    let kit = kinds::tls_kit();
    let w = world(|o| {
        o.request_timeout = timeout;
        o.tls = Some(kit.server.clone());
    });
    let hello = kinds::client_hello(&kit);
    // Silent, and half a ClientHello sent late: both end at the same instant.
    let (mut silent, mut half) = (w.connect(), w.connect());
    let (silent_bytes, half_bytes) = w.sim.block_on(async {
        w.sim.sleep(ms(100)).await;
        half.send(&hello[..hello.len() / 2]).await;
        let (a, b) = future::zip(silent.until_close(), half.until_close()).await;
        (a.0, b.0)
    });
    assert_eq!(w.sim.elapsed(), timeout);
    assert!(silent_bytes.is_empty() && half_bytes.is_empty());
    assert_eq!(w.active(), 0);
}

#[test]
fn a_drain_notice_ends_a_connection_still_in_its_tls_handshake() {
    let kit = kinds::tls_kit();
    let w = world(|o| {
        o.request_timeout = Duration::from_secs(20);
        o.tls = Some(kit.server.clone());
    });
    let mut peer = w.connect();
    w.sim.block_on(async {
        w.sim.sleep(ms(10)).await;
        assert_eq!(w.active(), 1);
        w.listener.handle().notify_drain();
        let (bytes, how) = peer.until_close().await;
        assert!(bytes.is_empty());
        assert_eq!(how, Closed::Eof);
    });
    assert_eq!(
        w.sim.elapsed(),
        ms(10),
        "closed at the notice, not at a timeout"
    );
}
