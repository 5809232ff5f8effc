//! Connection driving: `max_keep_alive_requests`, `request_timeout`,
//! `keep_alive_timeout`, and the slow-client guard (`min_bytes_per_second`).
//!
//! Timing is measured, never slept for: each test blocks on a read until the server
//! closes and then checks how long that took. These run on real sockets and each
//! adapter's own timers, to prove that those timers fire; the exact instants are
//! asserted on the deterministic runtime in `sim_timeouts.rs`. Here the lower bounds
//! stay exact (a timer never fires early, however loaded the machine) and the upper
//! bounds are only a safety net against a timer that never fires
//! ([`SAFETY_NET`](roadrunner_tests::SAFETY_NET)).

use std::io::Read;
use std::time::{Duration, Instant};

use roadrunner_core::{Options, Request, Routes};
use roadrunner_tests::{both, get_req, opts, Adapter, Closed, Hyper, Raw, Server, SAFETY_NET};

fn base() -> Options {
    let mut o = opts(Routes::handler(|_req: Request| async { "ok" }));
    // The rate guard is off unless a test is about it, so that only the timer under
    // test can close the connection.
    o.min_bytes_per_second = 0;
    o
}

fn start(adapter: Adapter, f: impl FnOnce(&mut Options)) -> Server {
    let mut o = base();
    f(&mut o);
    Server::start(adapter, o)
}

/// Reads until the server closes; returns what it sent and when it closed.
fn until_close(raw: &mut Raw) -> (Vec<u8>, Instant) {
    let (bytes, _how): (Vec<u8>, Closed) = raw.read_until_close();
    (bytes, Instant::now())
}

both!(max_keep_alive_requests_closes_after_the_last, |adapter| {
    let s = start(adapter, |o| o.max_keep_alive_requests = 3);
    let mut raw = Raw::connect(s.port());
    for i in 1..=2 {
        raw.send(get_req("/"));
        let r = raw.response();
        assert_eq!(r.status, 200);
        assert!(!r.has_token("connection", "close"), "response {i}: {r:?}");
    }
    raw.send(get_req("/"));
    let r = raw.response();
    assert_eq!(r.status, 200);
    assert!(r.has_token("connection", "close"), "third response: {r:?}");
    raw.expect_close();
    // Pipelined: 5 requests in one write get exactly 3 answers, then the close.
    let mut raw = Raw::connect(s.port());
    raw.send(get_req("/").repeat(5));
    let all = raw.responses_until_close();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all[2].has_token("connection", "close"));
});

both!(request_timeout_closes_a_stalled_head, |adapter| {
    let timeout = Duration::from_millis(200);
    let s = start(adapter, |o| o.request_timeout = timeout);
    let t0 = Instant::now();
    let mut raw = Raw::connect(s.port());
    raw.send("GET / HTTP/1.1\r\nHo");
    let (bytes, closed_at) = until_close(&mut raw);
    let took = closed_at - t0;
    assert!(
        took >= timeout,
        "closed after {took:?}, before the {timeout:?} request_timeout"
    );
    assert!(took < SAFETY_NET, "closed only after {took:?}");
    // Nothing, or a 408, may be sent; never a 200.
    if !bytes.is_empty() {
        let all = roadrunner_tests::parse_all(&bytes);
        assert!(all.len() == 1 && all[0].status == 408, "{all:?}");
    }
});

both!(
    request_timeout_counts_from_accept_on_a_silent_connection,
    |adapter| {
        let timeout = Duration::from_millis(200);
        let s = start(adapter, |o| o.request_timeout = timeout);
        let t0 = Instant::now();
        let mut raw = Raw::connect(s.port());
        let (bytes, closed_at) = until_close(&mut raw);
        let took = closed_at - t0;
        assert!(took >= timeout, "closed after {took:?}, before {timeout:?}");
        assert!(took < SAFETY_NET, "{took:?}");
        if !bytes.is_empty() {
            let all = roadrunner_tests::parse_all(&bytes);
            assert!(all.len() == 1 && all[0].status == 408, "{all:?}");
        }
    }
);

both!(keep_alive_timeout_closes_an_idle_connection, |adapter| {
    let idle = Duration::from_millis(200);
    let s = start(adapter, |o| {
        o.keep_alive_timeout = idle;
        o.request_timeout = Duration::from_secs(20);
    });
    let mut raw = Raw::connect(s.port());
    // Measured from before the request, so the server's idle clock (which starts
    // after its response) starts later than ours: `took` can only overestimate.
    let t0 = Instant::now();
    raw.send(get_req("/"));
    assert_eq!(raw.response().status, 200);
    let (bytes, closed_at) = until_close(&mut raw);
    let took = closed_at - t0;
    assert!(bytes.is_empty(), "{:?}", String::from_utf8_lossy(&bytes));
    assert!(
        took >= idle,
        "closed after {took:?}, before keep_alive_timeout {idle:?}"
    );
    assert!(took < SAFETY_NET, "closed only after {took:?}");
});

both!(slow_loris_is_cut_off, |adapter| {
    let s = start(adapter, |o| {
        o.min_bytes_per_second = 1000;
        o.rate_check_interval = Duration::from_millis(100);
        o.request_timeout = Duration::from_secs(20);
    });
    let req = get_req("/slow");
    let mut raw = Raw::connect(s.port());
    // 1 byte every 50 ms (20 B/s against 1000 B/s owed). Each pause is a 50 ms read
    // wait, so the close is seen as soon as it happens.
    raw.stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let t0 = Instant::now();
    let mut cut_at = None;
    for (i, b) in req.bytes().enumerate() {
        if raw.try_send([b]).is_err() {
            cut_at = Some(i);
            break;
        }
        let mut buf = [0u8; 1024];
        match raw.stream.read(&mut buf) {
            Ok(0) => {
                cut_at = Some(i);
                break;
            }
            Ok(n) => panic!(
                "a response to an incomplete request: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                cut_at = Some(i);
                break;
            }
        }
    }
    let took = t0.elapsed();
    let Some(i) = cut_at else {
        panic!(
            "the slow client sent all {} bytes over {took:?} without being cut off",
            req.len()
        );
    };
    assert!(i + 1 < req.len(), "cut only at the last byte");
    assert!(took < SAFETY_NET, "cut off only after {took:?}");
});

both!(fast_client_is_not_cut_off, |adapter| {
    let s = start(adapter, |o| {
        o.min_bytes_per_second = 1000;
        o.rate_check_interval = Duration::from_millis(100);
        // Hundreds of requests go by in the 300 ms below; only the rate guard is tested.
        o.max_keep_alive_requests = u32::MAX;
    });
    // Requests for 300+ ms (several rate checks) on one connection, each sent at once.
    let mut c = Hyper::connect(s.port());
    let t0 = Instant::now();
    let mut n = 0;
    while t0.elapsed() < Duration::from_millis(300) || n < 20 {
        let r = c.get("/fast");
        assert_eq!(r.status, 200, "request {n} after {:?}", t0.elapsed());
        n += 1;
    }
    // Idle time between requests is not held against the client: a kept-alive
    // connection that pauses (the pause is the behaviour under test, not a wait for
    // something) and then sends a whole request is served.
    let mut raw = Raw::connect(s.port());
    raw.send(get_req("/"));
    assert_eq!(raw.response().status, 200);
    std::thread::sleep(Duration::from_millis(250));
    raw.send(get_req("/"));
    assert_eq!(raw.response().status, 200);
});

both!(
    request_timeout_applies_to_the_next_head_on_a_kept_alive_connection,
    |adapter| {
        let timeout = Duration::from_millis(200);
        let s = start(adapter, |o| {
            o.request_timeout = timeout;
            o.keep_alive_timeout = Duration::from_secs(20);
        });
        let mut raw = Raw::connect(s.port());
        raw.send(get_req("/"));
        assert_eq!(raw.response().status, 200);
        // Idle is governed by the long keep_alive_timeout; once the next head has begun,
        // request_timeout governs it.
        let t0 = Instant::now();
        raw.send("GET / HTTP/1.1\r\nHo");
        let (bytes, closed_at) = until_close(&mut raw);
        let took = closed_at - t0;
        assert!(took >= timeout, "closed after {took:?}, before {timeout:?}");
        assert!(took < SAFETY_NET, "closed only after {took:?}");
        if !bytes.is_empty() {
            let all = roadrunner_tests::parse_all(&bytes);
            assert!(all.len() == 1 && all[0].status == 408, "{all:?}");
        }
    }
);

both!(stalled_body_is_closed_after_request_timeout, |adapter| {
    let timeout = Duration::from_millis(200);
    let s = start(adapter, |o| o.request_timeout = timeout);
    let mut raw = Raw::connect(s.port());
    raw.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345");
    let t0 = Instant::now();
    let (bytes, closed_at) = until_close(&mut raw);
    let took = closed_at - t0;
    assert!(took < SAFETY_NET, "closed only after {took:?}");
    // The handler never ran: nothing but possibly a 408 was sent.
    if !bytes.is_empty() {
        let all = roadrunner_tests::parse_all(&bytes);
        assert!(all.len() == 1 && all[0].status == 408, "{all:?}");
    }
});

both!(slow_body_is_cut_off, |adapter| {
    let s = start(adapter, |o| {
        o.min_bytes_per_second = 1000;
        o.rate_check_interval = Duration::from_millis(100);
        o.request_timeout = Duration::from_secs(20);
    });
    let mut raw = Raw::connect(s.port());
    raw.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n");
    raw.stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let t0 = Instant::now();
    let mut cut = false;
    for _ in 0..40 {
        if raw.try_send(b"x").is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 1024];
        match raw.stream.read(&mut buf) {
            Ok(0) => {
                cut = true;
                break;
            }
            Ok(n) => panic!(
                "a response to an incomplete body: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    let took = t0.elapsed();
    assert!(cut, "a 20 B/s body was read to the end over {took:?}");
    assert!(took < SAFETY_NET, "cut off only after {took:?}");
});
