//! Telemetry: the `tracing` events with target `roadrunner` that README's "Telemetry"
//! table lists, with their fields and levels.
//!
//! How events are captured: the server emits them on its runtime's worker threads
//! (tokio workers, smol executor threads), which a subscriber installed with
//! `tracing::subscriber::set_default` on the test thread would never see. So this test
//! binary installs ONE global subscriber (`set_global_default`, guarded by a
//! `std::sync::Once` that every test calls before starting its server): a
//! `tracing_subscriber` registry with a small [`Recorder`] layer that appends every
//! `roadrunner` event (level and all fields, as text) to a global `Mutex<Vec<..>>`.
//! Tests run in parallel in this process, so each one starts its listener under a
//! unique name and only looks at the events whose `listener` field carries it (every
//! event checked here has that field). Events are emitted asynchronously to what the
//! client sees, so tests poll the record with a bounded deadline.

mod kinds;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Mutex, Once};
use std::time::Duration;

use roadrunner_core::{Body, DrainOutcome, Frame, Options, Request, RequestExt, Route, Routes};
use roadrunner_tests::{both, get_req, opts, unique_name, wait_until, Adapter, Raw, Server};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One recorded event: its level and its fields, values as text (strings unquoted,
/// `%` and `?` fields as their Display / Debug form).
#[derive(Clone, Debug)]
struct Recorded {
    level: Level,
    fields: HashMap<String, String>,
}

impl Recorded {
    fn get(&self, field: &str) -> &str {
        self.fields
            .get(field)
            .unwrap_or_else(|| panic!("event without field {field:?}: {self:?}"))
    }

    fn has(&self, field: &str, value: &str) -> bool {
        self.fields.get(field).is_some_and(|v| v == value)
    }
}

static EVENTS: Mutex<Vec<Recorded>> = Mutex::new(Vec::new());

struct FieldText<'a>(&'a mut HashMap<String, String>);

impl Visit for FieldText<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// The layer recording every event with target `roadrunner`.
struct Recorder;

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "roadrunner" {
            return;
        }
        let mut fields = HashMap::new();
        event.record(&mut FieldText(&mut fields));
        EVENTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Recorded {
                level: *event.metadata().level(),
                fields,
            });
    }
}

fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Recorder))
            .expect("no other global subscriber in this test binary");
    });
}

/// The events of listener `name` named `event`, so far.
fn events(name: &str, event: &str) -> Vec<Recorded> {
    EVENTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|r| r.has("listener", name) && r.has("event", event))
        .cloned()
        .collect()
}

/// Waits (bounded) for an event of listener `name` named `event` that satisfies
/// `pred`, and returns it.
fn wait_event(name: &str, event: &str, pred: impl Fn(&Recorded) -> bool) -> Recorded {
    let mut found = None;
    let ok = wait_until(Duration::from_secs(5), || {
        found = events(name, event).into_iter().find(|r| pred(r));
        found.is_some()
    });
    assert!(
        ok,
        "no matching {event:?} event for listener {name:?} within 5 s; its {event:?} events: \
         {:#?}",
        events(name, event)
    );
    found.expect("found")
}

fn routes() -> Routes {
    Routes::list([
        // Two chunks 200 ms apart, then (with `?fail`) an error instead of the end.
        Route::get("/slow-stream", |req: Request| async move {
            let fail = req.uri().query() == Some("fail");
            let body = smol::stream::unfold(0, move |i| {
                let nap = req.sleep(Duration::from_millis(200));
                async move {
                    match i {
                        0 => Some((Ok(Frame::Data("one".into())), 1)),
                        1 => {
                            nap.await;
                            Some((Ok(Frame::Data("two".into())), 2))
                        }
                        _ if fail => Some((Err(std::io::Error::other("gone")), 3)),
                        _ => None,
                    }
                }
            });
            roadrunner_core::Response::new(Body::from_try_stream(body))
        }),
        // Answers with its request id, to match it against the events.
        Route::get("/hello/:name", |req: Request| async move {
            req.request_id().unwrap_or(0).to_string()
        }),
        Route::get("/panic", |_req: Request| async {
            if true {
                panic!("telemetry panic (expected by the test)");
            }
            "unreachable"
        }),
    ])
}

fn start(adapter: Adapter, f: impl FnOnce(&mut Options)) -> (Server, String) {
    install();
    let name = unique_name("telemetry");
    let mut o = opts(routes());
    f(&mut o);
    (Server::start_named(adapter, &name, o), name)
}

both!(listener_and_request_events, |adapter| {
    let (s, name) = start(adapter, |_| {});
    let started = wait_event(&name, "listener.start", |_| true);
    assert_eq!(started.level, Level::INFO);
    assert_eq!(started.get("addr"), s.addr().to_string());

    let mut raw = Raw::connect(s.port());
    let peer: SocketAddr = raw.local_addr();
    raw.send(get_req("/hello/x"));
    let r = raw.response();
    assert_eq!(r.status, 200);
    let id = r.text().to_owned();

    let accept = wait_event(&name, "listener.accept", |e| {
        e.has("peer", &peer.to_string())
    });
    assert_eq!(accept.level, Level::DEBUG);

    let start = wait_event(&name, "request.start", |e| e.has("request_id", &id));
    assert_eq!(start.level, Level::DEBUG);
    assert_eq!(start.get("method"), "GET");
    assert_eq!(start.get("path"), "/hello/x");

    let stop = wait_event(&name, "request.stop", |e| e.has("request_id", &id));
    assert_eq!(stop.level, Level::INFO);
    assert_eq!(stop.get("method"), "GET");
    assert_eq!(stop.get("path"), "/hello/x");
    assert_eq!(stop.get("status"), "200");
    let us: u64 = stop
        .get("duration_us")
        .parse()
        .unwrap_or_else(|_| panic!("duration_us not a number: {stop:?}"));
    assert!(us < 5_000_000, "duration_us = {us}");

    // A panicking handler: request.exception, then request.stop with its 500.
    raw.send(get_req("/panic"));
    assert_eq!(raw.response().status, 500);
    raw.expect_close();
    let exc = wait_event(&name, "request.exception", |e| e.has("path", "/panic"));
    assert_eq!(exc.level, Level::ERROR);
    assert_eq!(exc.get("method"), "GET");
    assert!(
        exc.get("panic").contains("telemetry panic"),
        "panic field: {exc:?}"
    );
    let exc_id = exc.get("request_id").to_owned();
    assert_ne!(exc_id, id);
    let stop = wait_event(&name, "request.stop", |e| e.has("request_id", &exc_id));
    assert_eq!(stop.get("status"), "500");
    assert_eq!(stop.get("path"), "/panic");

    let close = wait_event(&name, "listener.conn_close", |e| {
        e.has("peer", &peer.to_string())
    });
    assert_eq!(close.level, Level::DEBUG);
    // One of each per request or connection, no more.
    assert_eq!(events(&name, "request.start").len(), 2);
    assert_eq!(events(&name, "request.stop").len(), 2);
    assert_eq!(events(&name, "request.exception").len(), 1);
    assert_eq!(events(&name, "listener.accept").len(), 1);
    assert_eq!(events(&name, "listener.start").len(), 1);
});

both!(rejected_connection_event, |adapter| {
    let (s, name) = start(adapter, |o| o.max_clients = 1);
    let _admitted = Raw::connect(s.port());
    s.wait_info("one admitted", |i| i.active_clients == 1);
    let mut extra = Raw::connect(s.port());
    let peer = extra.local_addr().to_string();
    extra.expect_close();
    let rejected = wait_event(&name, "listener.conn_rejected", |e| e.has("peer", &peer));
    assert_eq!(rejected.level, Level::WARN);
    assert_eq!(rejected.get("max_clients"), "1");
    assert_eq!(s.info().rejected, 1);
    // A rejected connection is never accepted into a connection task.
    assert!(events(&name, "listener.accept")
        .iter()
        .all(|e| !e.has("peer", &peer)));
});

both!(drain_events, |adapter| {
    // One request held in flight (runtime-neutral semaphore), so that exactly one
    // connection is alive throughout the drain's start.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let (mut s, name) = start(adapter, move |o| {
        o.routes = Routes::list([Route::get("/gated", move |_req: Request| {
            let g = g.clone();
            async move {
                g.acquire().await.expect("gate open").forget();
                "released"
            }
        })]);
    });
    let mut busy = Raw::connect(s.port());
    busy.send(get_req("/gated"));
    wait_event(&name, "request.start", |e| e.has("path", "/gated"));
    let drain = s.drain_in_background(Duration::from_secs(2));
    let start = wait_event(&name, "drain.start", |_| true);
    assert_eq!(start.level, Level::INFO);
    assert_eq!(start.get("active"), "1");
    assert_eq!(start.get("timeout_ms"), "2000");
    gate.add_permits(1);
    let r = busy.response();
    assert_eq!((r.status, r.text()), (200, "released"));
    let (outcome, _) = drain.join().expect("drain thread");
    assert_eq!(outcome, DrainOutcome::Drained);
    let done = wait_event(&name, "drain.done", |_| true);
    assert_eq!(done.level, Level::INFO);
    assert_eq!(done.get("outcome"), "Drained");
    busy.expect_close();
});

both!(
    drain_start_counts_the_connections_alive_at_the_start,
    |adapter| {
        // Idle keep-alive connections close as soon as the drain notice reaches them;
        // `active` must still count them: they were alive when the drain started.
        const IDLE: usize = 10;
        let (mut s, name) = start(adapter, |_| {});
        let mut idle: Vec<Raw> = (0..IDLE)
            .map(|_| {
                let mut raw = Raw::connect(s.port());
                raw.send(get_req("/hello/x"));
                assert_eq!(raw.response().status, 200);
                raw
            })
            .collect();
        assert_eq!(s.info().active_clients, IDLE);
        let (outcome, _) = s
            .drain_in_background(Duration::from_secs(2))
            .join()
            .expect("drain thread");
        assert_eq!(outcome, DrainOutcome::Drained);
        let start = wait_event(&name, "drain.start", |_| true);
        assert_eq!(
            start.get("active"),
            IDLE.to_string(),
            "drain.start with {IDLE} connections alive when drain began"
        );
        for raw in &mut idle {
            raw.expect_close();
        }
    }
);

/// The `reason` of the `listener.conn_close` event of the connection from `client`.
fn close_reason(name: &str, client: SocketAddr) -> String {
    let peer = client.to_string();
    wait_event(name, "listener.conn_close", |r| r.has("peer", &peer))
        .get("reason")
        .to_owned()
}

both!(conn_close_says_why, |adapter| {
    let (s, name) = start(adapter, |o| {
        o.request_timeout = Duration::from_millis(300);
        o.keep_alive_timeout = Duration::from_millis(300);
        o.min_bytes_per_second = 0;
    });

    // The client closes between requests.
    let mut raw = Raw::connect(s.port());
    raw.send(get_req("/hello/x"));
    assert_eq!(raw.response().status, 200);
    let me = raw.local_addr();
    drop(raw);
    assert_eq!(close_reason(&name, me), "done");

    let mut raw = Raw::connect(s.port());
    raw.send("GET / HTTP/1.1\r\n\r\n");
    assert_eq!(raw.response().status, 400, "no Host");
    raw.expect_close();
    assert_eq!(close_reason(&name, raw.local_addr()), "protocol_error");

    let mut raw = Raw::connect(s.port());
    raw.send("GET / HTTP/1.1\r\nHo");
    let _ = raw.read_until_close();
    assert_eq!(close_reason(&name, raw.local_addr()), "request_timeout");

    let mut raw = Raw::connect(s.port());
    raw.send(get_req("/hello/x"));
    assert_eq!(raw.response().status, 200);
    raw.expect_close();
    assert_eq!(close_reason(&name, raw.local_addr()), "keep_alive_timeout");

    // A reset mid-request (SO_LINGER 0 makes close send RST).
    let stream = std::net::TcpStream::connect(s.addr()).expect("connect");
    let me = stream.local_addr().expect("addr");
    (&stream)
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nab")
        .expect("write");
    // The server has the head once the request has started.
    wait_event(&name, "request.start", |_| true);
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("linger");
    drop(stream);
    assert_eq!(close_reason(&name, me), "peer_reset");
});

both!(conn_close_says_why_for_slow_clients_and_tls, |adapter| {
    let (s, name) = start(adapter, |o| {
        o.min_bytes_per_second = 1000;
        o.rate_check_interval = Duration::from_millis(100);
    });
    let mut raw = Raw::connect(s.port());
    raw.send("GET / HTTP/1.1\r\n");
    let _ = raw.read_until_close();
    assert_eq!(close_reason(&name, raw.local_addr()), "slow_client");

    let kit = kinds::tls_kit();
    let (s, name) = start(adapter, |o| o.tls = Some(kit.server.clone()));
    let mut raw = Raw::connect(s.port());
    raw.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let _ = raw.read_until_close();
    assert_eq!(close_reason(&name, raw.local_addr()), "tls_error");
});

// The test holds the body open on a gate (no timing involved): while it is held the
// exchange is not over, however long ago the handler returned its head.
both!(request_stop_waits_for_the_end_of_a_held_stream, |adapter| {
    install();
    let name = unique_name("telemetry");
    let (gate, pass) = kinds::gate();
    let routes = Routes::list([
        Route::get("/held", move |_req: Request| {
            std::future::ready(kinds::held_stream(pass.clone(), false))
        }),
        Route::get("/hello/:name", |_req: Request| async { "hello" }),
    ]);
    let s = Server::start_named(adapter, &name, opts(routes));
    let mut w = kinds::TcpWire::connect(s.port());
    w.send(get_req("/held"));
    assert_eq!(w.head().status, 200);
    assert_eq!(w.chunk(), kinds::Chunk::Data(b"first".to_vec()));
    let first_seen = std::time::Instant::now();
    // Emitted at the head, request.stop would be on record before this first chunk
    // was even written.
    let held = |e: &Recorded| e.has("path", "/held");
    assert!(
        !events(&name, "request.stop").iter().any(held),
        "request.stop before the end of the body"
    );
    // Another request, started later, ends first: the held one is still going.
    let mut other = Raw::connect(s.port());
    other.send(get_req("/hello/x"));
    assert_eq!(other.response().status, 200);
    wait_event(&name, "request.stop", |e| e.has("path", "/hello/x"));
    assert!(!events(&name, "request.stop").iter().any(held));
    let held_for = first_seen.elapsed();
    gate.open();
    let (rest, _) = w.rest_of_chunked();
    assert_eq!(rest, b"last");
    let stop = wait_event(&name, "request.stop", held);
    assert_eq!(stop.get("complete"), "true");
    let us: u64 = stop.get("duration_us").parse().expect("a number");
    assert!(
        us >= held_for.as_micros() as u64,
        "duration_us = {us}, but the body was held for {held_for:?}"
    );
});

both!(request_stop_covers_the_whole_streamed_response, |adapter| {
    let (s, name) = start(adapter, |_| {});
    for (path, complete) in [("/slow-stream", "true"), ("/slow-stream?fail", "false")] {
        let mut raw = Raw::connect(s.port());
        raw.send(get_req(path));
        if complete == "true" {
            assert_eq!(raw.response().text(), "onetwo");
        } else {
            let _ = raw.read_until_close();
        }
        let stop = wait_event(&name, "request.stop", |e| {
            e.has("path", "/slow-stream") && e.has("complete", complete)
        });
        let us: u64 = stop.get("duration_us").parse().expect("a number");
        assert!(
            us >= 200_000,
            "{path}: duration_us = {us}, the body took 200 ms"
        );
    }
});

both!(a_refused_h2_stream_emits_request_throttled, |adapter| {
    let (s, name) = start(adapter, |o| {
        o.protocols = vec![roadrunner_core::Protocol::Http2(Default::default())];
        o.max_concurrent_requests = Some(1);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let peer = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(s.addr())
            .await
            .expect("connect");
        let peer = tcp.local_addr().expect("local addr");
        let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
        tokio::spawn(conn);
        let request = |path: &str| {
            http::Request::get(format!("http://localhost{path}"))
                .body(())
                .expect("request")
        };
        let mut first = client.clone().ready().await.expect("ready");
        let (slow, _) = first
            .send_request(request("/slow-stream"), true)
            .expect("first stream");
        // Its head is out, its body takes 200 ms more: the one slot is held.
        let mut slow = slow.await.expect("first response").into_body();
        let mut second = client.ready().await.expect("ready");
        let (refused, _) = second
            .send_request(request("/hello/x"), true)
            .expect("second stream");
        let err = refused.await.expect_err("over max_concurrent_requests");
        assert_eq!(err.reason(), Some(h2::Reason::REFUSED_STREAM), "{err}");
        while let Some(chunk) = slow.data().await {
            chunk.expect("the first stream is served whole");
        }
        peer
    });
    let throttled = wait_event(&name, "request.throttled", |e| {
        e.has("peer", &peer.to_string())
    });
    assert_eq!(throttled.level, Level::WARN);
    assert_eq!(throttled.get("max_concurrent_requests"), "1");
});

both!(
    request_stop_waits_until_a_buffered_body_is_written,
    |adapter| {
        use std::io::Read;
        install();
        let name = unique_name("telemetry");
        // Far more than loopback's socket buffers hold: the write waits for the client.
        const BIG: usize = 48 << 20;
        let routes = Routes::list([Route::get("/big", |_req: Request| async {
            vec![b'x'; BIG]
        })]);
        let s = Server::start_named(adapter, &name, opts(routes));
        let mut tcp = std::net::TcpStream::connect(s.addr()).expect("connect");
        tcp.set_read_timeout(Some(roadrunner_tests::IO_TIMEOUT))
            .expect("timeout");
        tcp.write_all(get_req("/big").as_bytes()).expect("request");
        // The first bytes are in: the whole answer is queued and being written.
        let mut buf = vec![0u8; 64 << 10];
        let mut got = tcp.read(&mut buf).expect("the head");
        let big = |e: &Recorded| e.has("path", "/big");
        assert!(
            !events(&name, "request.stop").iter().any(big),
            "request.stop before the body was written"
        );
        while got < BIG {
            let n = tcp.read(&mut buf).expect("the body");
            assert!(n > 0, "closed early");
            got += n;
        }
        let stop = wait_event(&name, "request.stop", big);
        assert_eq!(stop.get("complete"), "true");
    }
);
