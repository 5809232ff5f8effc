//! Options trading memory or isolation: `hibernate_after` (an idle kept-alive
//! connection gives its buffers back and gets them again for its next request) and
//! `handler_spawn: Task` (each handler in a task of its own).
//!
//! Hibernation is not visible on the wire, so the test watches for the server's
//! `conn.hibernate` trace event (target `roadrunner`, field `peer`) to know it has
//! happened before sending the next request, instead of sleeping past
//! `hibernate_after` and hoping. The server emits it on its runtime's threads, so a
//! global subscriber is installed once for this test binary (see `telemetry.rs` for
//! the same approach); connections are told apart by their peer address.

use std::sync::{Mutex, Once};
use std::time::Duration;

use roadrunner_core::{HandlerSpawn, Options, Request, Route, Routes};
use roadrunner_tests::{
    both, echo, get_req, hyper_get, opts, path, wait_until, Adapter, Hyper, Raw, Server,
};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The `peer` of every `conn.hibernate` event so far.
static HIBERNATED: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Default)]
struct HibernateFields {
    is_hibernate: bool,
    peer: Option<String>,
}

impl Visit for HibernateFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event" {
            self.is_hibernate = value == "conn.hibernate";
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "peer" => self.peer = Some(format!("{value:?}")),
            "event" => self.is_hibernate = format!("{value:?}") == "\"conn.hibernate\"",
            _ => {}
        }
    }
}

struct HibernateRecorder;

impl<S: Subscriber> Layer<S> for HibernateRecorder {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "roadrunner" {
            return;
        }
        let mut f = HibernateFields::default();
        event.record(&mut f);
        if let (true, Some(peer)) = (f.is_hibernate, f.peer) {
            HIBERNATED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(peer);
        }
    }
}

fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(HibernateRecorder),
        )
        .expect("no other global subscriber in this test binary");
    });
}

/// Waits (bounded) until the connection of `raw` has hibernated `n` times.
fn wait_hibernated(raw: &Raw, n: usize) {
    let peer = raw.local_addr().to_string();
    let count = || {
        HIBERNATED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|p| **p == peer)
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(5), || count() >= n),
        "connection {peer} hibernated {} times, expected {n}",
        count()
    );
}

fn routes() -> Routes {
    Routes::list([
        Route::post("/echo", echo),
        Route::get("/panic", |_req: Request| async {
            if true {
                panic!("handler panic (expected by the test)");
            }
            "unreachable"
        }),
        Route::get("/sync-panic", sync_panic),
        Route::get("/*rest", path),
    ])
}

/// Panics while being called, before any future exists.
fn sync_panic(_req: Request) -> std::future::Ready<&'static str> {
    panic!("synchronous handler panic (expected by the test)")
}

fn start(adapter: Adapter, f: impl FnOnce(&mut Options)) -> Server {
    install();
    let mut o = opts(routes());
    f(&mut o);
    Server::start(adapter, o)
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

both!(
    a_hibernated_connection_serves_its_next_requests,
    |adapter| {
        let s = start(adapter, |o| {
            o.hibernate_after = Some(Duration::from_millis(50))
        });
        let mut raw = Raw::connect(s.port());
        raw.send(get_req("/first"));
        let r = raw.response();
        assert_eq!((r.status, r.text()), (200, "/first"));

        // Idle past hibernate_after: the buffers are given back...
        wait_hibernated(&raw, 1);
        // ... and the next request (with a body) is served on fresh ones.
        raw.send(post("/echo", b"after hibernation"));
        let r = raw.response();
        assert_eq!((r.status, r.text()), (200, "after hibernation"));
        assert!(!r.has_token("connection", "close"), "{r:?}");

        // Hibernated again, then a pipelined pair in one write.
        wait_hibernated(&raw, 2);
        let mut pair = post("/echo", b"one");
        pair.extend_from_slice(get_req("/two").as_bytes());
        raw.send(pair);
        let first = raw.response();
        let second = raw.response();
        assert_eq!((first.status, first.text()), (200, "one"));
        assert_eq!((second.status, second.text()), (200, "/two"));

        // And a body larger than one read buffer (16 KiB) after a third hibernation.
        wait_hibernated(&raw, 3);
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        raw.send(post("/echo", &big));
        let r = raw.response();
        assert_eq!(r.status, 200);
        assert!(r.body == big, "the 100 000-byte echo came back different");
        assert!(raw.buffer_is_empty());
        assert_eq!(s.info().requests_served, 5);
    }
);

both!(handler_spawn_task_serves_requests, |adapter| {
    let s = start(adapter, |o| o.handler_spawn = HandlerSpawn::Task);
    let mut c = Hyper::connect(s.port());
    for i in 0..5 {
        let p = format!("/req/{i}");
        assert_eq!(c.get(&p).text(), p);
    }
    let r = c.post("/echo", "text/plain", "spawned");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "spawned");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    // Pipelined requests on one connection still answer in order.
    let mut raw = Raw::connect(s.port());
    let mut batch = Vec::new();
    for i in 0..4 {
        batch.extend_from_slice(get_req(&format!("/p/{i}")).as_bytes());
    }
    raw.send(batch);
    for i in 0..4 {
        assert_eq!(raw.response().text(), format!("/p/{i}"));
    }
});

both!(handler_spawn_task_survives_a_panic, |adapter| {
    let s = start(adapter, |o| o.handler_spawn = HandlerSpawn::Task);
    let mut bystander = Hyper::connect(s.port());
    assert_eq!(bystander.get("/before").text(), "/before");
    for p in ["/panic", "/sync-panic"] {
        let mut raw = Raw::connect(s.port());
        raw.send(format!("{}{}", get_req(p), get_req("/after")));
        let all = raw.responses_until_close();
        assert_eq!(
            all.iter().map(|r| r.status).collect::<Vec<_>>(),
            [500],
            "{p}: {all:?}"
        );
    }
    assert_eq!(bystander.get("/still").text(), "/still");
    assert_eq!(hyper_get(s.port(), "/new").text(), "/new");
    drop(bystander);
    s.wait_info("0 active clients after the panics", |i| {
        i.active_clients == 0
    });
    assert_eq!(s.info().requests_served, 5);
});
