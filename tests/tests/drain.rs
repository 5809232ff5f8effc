//! Graceful shutdown: `status()`, `drain(timeout)` (listen socket closed at once,
//! in-flight requests finished with `connection: close`, idle keep-alive connections
//! closed, stragglers ended at the deadline), `notify_drain()`, and connections started
//! with `graceful_drain: false`.
//!
//! In-flight requests are made observable through a counter their handler bumps on
//! entry; the tests wait for it (bounded) rather than sleeping. `drain` runs on a thread
//! of its own ([`Server::drain_in_background`]) so the test can watch it meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roadrunner_core::{DrainOutcome, Options, Request, RequestExt, Route, Routes, Status};
use roadrunner_tests::{
    both, connect_refused, get_req, hyper_get, opts, wait_until, Adapter, Closed, Raw, Server,
    SAFETY_NET,
};

/// How long `/slow` takes.
const SLOW: Duration = Duration::from_millis(300);

/// `/` answers at once; `/slow` after [`SLOW`]; `/forever` never. `started` counts the
/// `/slow` and `/forever` calls that have begun.
fn routes(started: &Arc<AtomicUsize>) -> Routes {
    let slow = started.clone();
    let forever = started.clone();
    Routes::list([
        Route::get("/", |_req: Request| async { "ok" }),
        Route::get("/slow", move |req: Request| {
            slow.fetch_add(1, Ordering::SeqCst);
            async move {
                req.sleep(SLOW).await;
                "slow done"
            }
        }),
        Route::get("/forever", move |_req: Request| {
            forever.fetch_add(1, Ordering::SeqCst);
            async move {
                std::future::pending::<()>().await;
                "unreachable"
            }
        }),
    ])
}

fn start(adapter: Adapter, f: impl FnOnce(&mut Options)) -> (Server, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    let mut o = opts(routes(&started));
    f(&mut o);
    (Server::start(adapter, o), started)
}

/// Waits (bounded) until `n` slow handlers are running.
fn wait_started(started: &AtomicUsize, n: usize) {
    assert!(
        wait_until(Duration::from_secs(5), || started.load(Ordering::SeqCst)
            >= n),
        "only {} of {n} handlers started",
        started.load(Ordering::SeqCst)
    );
}

/// A connection that has been served one request and now idles, kept alive.
fn idle_conn(port: u16) -> Raw {
    let mut raw = Raw::connect(port);
    raw.send(get_req("/"));
    let r = raw.response();
    assert_eq!(r.status, 200);
    assert!(!r.has_token("connection", "close"), "{r:?}");
    raw
}

/// Reads one response that must be the full `/slow` answer closing the connection,
/// then the close itself.
fn expect_slow_answer_then_close(raw: &mut Raw, what: &str) {
    let r = raw.response();
    assert_eq!(r.status, 200, "{what}: {r:?}");
    assert_eq!(r.text(), "slow done", "{what}");
    assert!(
        r.has_token("connection", "close"),
        "{what}: a response finished during a drain must say connection: close: {r:?}"
    );
    raw.expect_close();
}

both!(status_is_draining_while_drain_runs, |adapter| {
    // Handlers held until released, so that drain is certainly still waiting while
    // its status is observed.
    let started = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (st, g) = (started.clone(), gate.clone());
    let routes = Routes::list([Route::get("/gated", move |_req: Request| {
        st.fetch_add(1, Ordering::SeqCst);
        let g = g.clone();
        // The semaphore is runtime-neutral: it waits on either adapter.
        async move {
            g.acquire().await.expect("gate open").forget();
            "slow done"
        }
    })]);
    let mut s = Server::start(adapter, opts(routes));
    let h = s.handle();
    assert_eq!(h.status(), Status::Accepting);
    assert_eq!(h.drain_deadline(), None);
    let mut busy: Vec<Raw> = (0..3)
        .map(|_| {
            let mut raw = Raw::connect(s.port());
            raw.send(get_req("/gated"));
            raw
        })
        .collect();
    wait_started(&started, 3);
    assert_eq!(h.status(), Status::Accepting, "before drain");
    let timeout = Duration::from_secs(5);
    let t0 = Instant::now();
    let drain = s.drain_in_background(timeout);
    // Observed from this thread while the drain thread waits on the held requests.
    assert!(
        wait_until(SAFETY_NET, || h.status() == Status::Draining),
        "status() still {:?} after drain began",
        h.status()
    );
    assert!(
        !drain.is_finished(),
        "drain returned while requests were in flight"
    );
    let deadline = h
        .drain_deadline()
        .expect("a drain notice carries its deadline");
    assert!(
        deadline >= t0 + timeout && deadline <= Instant::now() + timeout,
        "deadline {:?} after the drain began, expected about {timeout:?}",
        deadline - t0
    );
    assert_eq!(h.info().active_clients, 3);
    gate.add_permits(3);
    for (i, raw) in busy.iter_mut().enumerate() {
        expect_slow_answer_then_close(raw, &format!("busy connection {i}"));
    }
    let (outcome, _) = drain.join().expect("drain thread");
    assert_eq!(outcome, DrainOutcome::Drained);
    assert_eq!(h.status(), Status::Draining, "after drain returned");
});

both!(
    drain_finishes_in_flight_requests_and_closes_idle_ones,
    |adapter| {
        const BUSY: usize = 20;
        const IDLE: usize = 3;
        let (mut s, started) = start(adapter, |_| {});
        let port = s.port();
        let h = s.handle();
        let mut idle: Vec<Raw> = (0..IDLE).map(|_| idle_conn(port)).collect();
        let mut busy: Vec<Raw> = (0..BUSY)
            .map(|_| {
                let mut raw = Raw::connect(port);
                raw.send(get_req("/slow"));
                raw
            })
            .collect();
        wait_started(&started, BUSY);
        assert_eq!(h.info().active_clients, BUSY + IDLE);
        let timeout = Duration::from_secs(5);
        let t0 = Instant::now();
        let drain = s.drain_in_background(timeout);

        // The listen socket closes (at once: `sim_timeouts.rs` checks the instant, and
        // that drain waits for the requests in flight, which here take only SLOW).
        assert!(
            wait_until(SAFETY_NET, || connect_refused(port)),
            "a new connect to {port} is not refused {SAFETY_NET:?} after drain began"
        );

        // Idle keep-alive connections are closed promptly, with nothing sent.
        for (i, raw) in idle.iter_mut().enumerate() {
            let (rest, how) = raw.read_until_close();
            let took = t0.elapsed();
            assert!(
                rest.is_empty(),
                "idle connection {i} got {:?}",
                String::from_utf8_lossy(&rest)
            );
            assert_eq!(how, Closed::Eof, "idle connection {i}");
            assert!(
                took < SAFETY_NET,
                "idle connection {i} closed only {took:?} after drain began (timeout {timeout:?})"
            );
        }

        // Every in-flight request gets its full answer, closing its connection.
        for (i, raw) in busy.iter_mut().enumerate() {
            expect_slow_answer_then_close(raw, &format!("in-flight request {i}"));
        }
        let (outcome, took) = drain.join().expect("drain thread");
        assert_eq!(outcome, DrainOutcome::Drained);
        assert!(
            took < timeout,
            "drain took {took:?}, i.e. waited for its timeout"
        );
        assert_eq!(h.info().active_clients, 0, "after Drained");
        assert_eq!(h.info().requests_served, (BUSY + IDLE) as u64);
        assert!(connect_refused(port), "listening again after drain");
    }
);

both!(a_straggler_is_ended_at_the_deadline, |adapter| {
    let (mut s, started) = start(adapter, |_| {});
    let h = s.handle();
    let mut straggler = Raw::connect(s.port());
    straggler.send(get_req("/forever"));
    wait_started(&started, 1);
    let timeout = Duration::from_millis(200);
    let (outcome, took) = s.drain_in_background(timeout).join().expect("drain thread");
    let returned = Instant::now();
    assert_eq!(outcome, DrainOutcome::TimedOut { remaining: 1 });
    assert!(
        took >= timeout,
        "drain returned after {took:?} < {timeout:?}"
    );
    assert!(
        took < timeout + SAFETY_NET,
        "drain({timeout:?}) returned only after {took:?}"
    );
    assert_eq!(h.info().active_clients, 0, "after TimedOut");
    // Its socket was closed by the time drain returned: the read ends at once.
    let (rest, how) = straggler.read_until_close();
    let waited = returned.elapsed();
    assert!(
        rest.is_empty(),
        "the straggler got {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(
        waited < SAFETY_NET,
        "the straggler's socket closed ({how:?}) only {waited:?} after drain returned"
    );
});

both!(notify_drain_closes_idle_and_keeps_accepting, |adapter| {
    let (s, started) = start(adapter, |_| {});
    let port = s.port();
    let h = s.handle();
    let mut idle = idle_conn(port);
    let mut busy = Raw::connect(port);
    busy.send(get_req("/slow"));
    wait_started(&started, 1);
    let t0 = Instant::now();
    h.notify_drain();

    let (rest, how) = idle.read_until_close();
    assert!(
        rest.is_empty(),
        "idle connection got {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert_eq!(how, Closed::Eof);
    assert!(
        t0.elapsed() < SAFETY_NET,
        "idle connection closed only {:?} after notify_drain",
        t0.elapsed()
    );
    expect_slow_answer_then_close(&mut busy, "busy connection");

    assert_eq!(h.status(), Status::Accepting, "notify_drain does not drain");
    assert_eq!(h.drain_deadline(), None, "notify_drain carries no deadline");
    // New connections are accepted and kept alive as usual: the notice was for the
    // connections alive when it was sent.
    let mut fresh = Raw::connect(port);
    for i in 0..2 {
        fresh.send(get_req("/"));
        let r = fresh.response();
        assert_eq!(r.status, 200, "new connection, request {i}");
        assert!(!r.has_token("connection", "close"), "request {i}: {r:?}");
    }
    assert_eq!(hyper_get(port, "/").text(), "ok");
    assert_eq!(h.status(), Status::Accepting);
});

both!(
    a_notice_right_after_the_first_response_is_not_lost,
    |adapter| {
        // A connection whose first request is answered in its task's very first poll,
        // with the notice sent as soon as the client has that answer: the connection was
        // alive and answering before the notice, so it must close (idle) like any other.
        // Repeated, since the window between the answer and the end of that first poll is
        // short.
        const ROUNDS: usize = 50;
        let (s, _started) = start(adapter, |_| {});
        let h = s.handle();
        for round in 0..ROUNDS {
            let mut raw = Raw::connect(s.port());
            raw.send(get_req("/"));
            assert_eq!(raw.response().status, 200, "round {round}");
            h.notify_drain();
            raw.stream
                .set_read_timeout(Some(SAFETY_NET))
                .expect("read timeout");
            let mut byte = [0u8; 1];
            match std::io::Read::read(&mut raw.stream, &mut byte) {
                Ok(0) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                other => panic!(
                    "round {round}: the connection answered just before notify_drain() was still \
                 open {SAFETY_NET:?} after it ({other:?}); active_clients = {}",
                    h.info().active_clients
                ),
            }
        }
    }
);

both!(
    graceful_drain_off_skips_notices_but_closes_on_drain,
    |adapter| {
        let (mut s, _started) = start(adapter, |o| o.graceful_drain = false);
        let port = s.port();
        let h = s.handle();
        let mut conn = idle_conn(port);
        h.notify_drain();
        // Not notified: still open, still kept alive.
        conn.send(get_req("/"));
        let r = conn.response();
        assert_eq!(r.status, 200, "after notify_drain");
        assert!(
            !r.has_token("connection", "close"),
            "an unwatched connection answered connection: close after notify_drain: {r:?}"
        );

        let timeout = Duration::from_secs(3);
        let drain = s.drain_in_background(timeout);
        assert!(
            wait_until(SAFETY_NET, || h.status() == Status::Draining),
            "status() still {:?}",
            h.status()
        );
        assert!(
            !drain.is_finished(),
            "drain returned while an unwatched connection was open"
        );
        // Drain cannot reach it while idle; its next response closes it.
        conn.send(get_req("/"));
        let r = conn.response();
        assert_eq!(r.status, 200, "during drain");
        assert!(
            r.has_token("connection", "close"),
            "the first response after drain began lacks connection: close: {r:?}"
        );
        conn.expect_close();
        let (outcome, took) = drain.join().expect("drain thread");
        assert_eq!(outcome, DrainOutcome::Drained);
        assert!(took < timeout, "drain waited for its timeout ({took:?})");
        assert_eq!(h.info().active_clients, 0);
    }
);

both!(drain_can_be_awaited_from_a_plain_thread, |adapter| {
    // `drain` is a future like `stop`; awaiting it from an executor other than the
    // listener's (here `smol::block_on` on a plain thread) must work on both adapters.
    let (mut s, started) = start(adapter, |_| {});
    let port = s.port();
    let h = s.handle();
    let _idle = idle_conn(port);
    // A request in flight, so that drain has to wait (on its timer too).
    let mut busy = Raw::connect(port);
    busy.send(get_req("/slow"));
    wait_started(&started, 1);
    let listener = s.take_listener();
    let outcome =
        std::thread::spawn(move || smol::block_on(listener.drain(Duration::from_secs(2))))
            .join()
            .unwrap_or_else(|payload| {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                panic!("drain awaited from a plain thread panicked: {msg}")
            });
    assert_eq!(outcome, DrainOutcome::Drained);
    expect_slow_answer_then_close(&mut busy, "busy connection");
    assert_eq!(h.info().active_clients, 0);
    assert!(connect_refused(port));
});
