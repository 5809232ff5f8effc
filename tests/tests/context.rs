//! Handler context: peer address, listener name, request ids, state, and the
//! runtime-neutral `sleep`.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use roadrunner_core::{Body, Request, RequestExt, Route, Routes};
use roadrunner_tests::{both, get_req, opts, Raw, Server};

/// How long `/nap` sleeps before answering.
const NAP: Duration = Duration::from_millis(200);

struct AppState {
    name: &'static str,
    n: u32,
}

fn routes() -> Routes {
    Routes::list([
        Route::get("/ctx", |req: Request| async move {
            let peer = req.peer_addr().expect("peer address");
            format!(
                "{}|{}|{}|{}",
                peer.ip(),
                peer.port(),
                req.listener_name().unwrap_or("-"),
                req.request_id().expect("request id"),
            )
        }),
        Route::get("/state", |req: Request| async move {
            match req.state::<AppState>() {
                Ok(s) => format!("{}:{}", s.name, s.n),
                Err(_) => "no state".to_owned(),
            }
        })
        .state(AppState { name: "app", n: 7 }),
        Route::get("/no-state", |req: Request| async move {
            format!("{}", req.state::<AppState>().is_err())
        }),
        Route::get("/nap", |req: Request| async move {
            req.sleep(NAP).await;
            "rested"
        }),
    ])
}

both!(peer_listener_name_and_distinct_request_ids, |adapter| {
    let name = format!("ctx-listener-{adapter:?}");
    let s = Server::start_named(adapter, &name, opts(routes()));
    let mut ids = HashSet::new();
    // Two connections, several requests each (kept alive and pipelined).
    for _ in 0..2 {
        let mut raw = Raw::connect(s.port());
        let me = raw.local_addr();
        raw.send(get_req("/ctx").repeat(3));
        for _ in 0..3 {
            let r = raw.response();
            assert_eq!(r.status, 200);
            let parts: Vec<&str> = r.text().split('|').collect();
            assert_eq!(parts.len(), 4, "{}", r.text());
            assert_eq!(parts[0], Ipv4Addr::LOCALHOST.to_string());
            assert_eq!(parts[1], me.port().to_string(), "peer port is the client's");
            assert_eq!(parts[2], name);
            let id: u64 = parts[3].parse().expect("numeric id");
            assert!(ids.insert(id), "request id {id} given twice");
        }
    }
    assert_eq!(ids.len(), 6);
});

both!(state_downcasts_to_its_type_only_on_its_route, |adapter| {
    let s = Server::start(adapter, opts(routes()));
    let mut raw = Raw::connect(s.port());
    raw.send(get_req("/state"));
    assert_eq!(raw.response().text(), "app:7");
    raw.send(get_req("/no-state"));
    assert_eq!(raw.response().text(), "true");
});

// The handler knows nothing of the runtime; the same code must wait on tokio's timer
// and on smol's. Only the lower bound is asserted: a timer never fires early, but a
// loaded machine may answer late.
both!(sleep_waits_on_the_serving_runtime, |adapter| {
    let s = Server::start(adapter, opts(routes()));
    let mut raw = Raw::connect(s.port());
    let t0 = Instant::now();
    raw.send(get_req("/nap"));
    let r = raw.response();
    let took = t0.elapsed();
    assert_eq!((r.status, r.text()), (200, "rested"));
    assert!(
        took >= NAP,
        "answered after {took:?}, before the {NAP:?} nap ended"
    );
});

// Handlers are also called directly, on requests built by hand: with no listener there
// is no runtime timer to ask, and `sleep` must still end rather than hang or panic.
#[test]
fn sleep_without_a_server_still_ends() {
    let req = Request::new(Body::empty());
    assert!(req.listener().is_none());
    let t0 = Instant::now();
    smol::block_on(req.sleep(NAP));
    let took = t0.elapsed();
    assert!(took >= NAP, "ended after {took:?}, before the {NAP:?} nap");
}

/// Listener-wide state: a hit counter shared by every handler and middleware.
struct Hits(std::sync::atomic::AtomicU64);

both!(listener_state_reaches_handlers_and_middleware, |adapter| {
    use roadrunner_core::{MissingState, Next};
    use std::sync::atomic::Ordering;

    let mut o = opts(Routes::list([
        Route::get("/hits", |req: Request| async move {
            let hits = req.state::<Hits>()?;
            Ok::<_, MissingState>(hits.0.load(Ordering::Relaxed).to_string())
        }),
        // The route's own state is found first; the listener's stays reachable.
        Route::get("/both", |req: Request| async move {
            let app = req.state::<AppState>()?;
            let hits = req.state::<Hits>()?;
            Ok::<_, MissingState>(format!("{} {}", app.name, hits.0.load(Ordering::Relaxed)))
        })
        .state(AppState {
            name: "route",
            n: 1,
        }),
        Route::get("/missing", |req: Request| async move {
            req.state::<u64>().map(|n| n.to_string())
        }),
        Route::get("/why-missing", |req: Request| async move {
            match req.state::<u64>() {
                Ok(_) => "found".to_owned(),
                Err(miss) => miss.to_string(),
            }
        }),
    ]));
    o.state.insert(Hits(0.into()));
    o.middlewares.push(|req: Request, next: Next| async move {
        req.state::<Hits>()?.0.fetch_add(1, Ordering::Relaxed);
        Ok::<_, MissingState>(next.run(req).await)
    });
    let s = Server::start(adapter, o);
    let mut raw = Raw::connect(s.port());
    raw.send(get_req("/hits"));
    assert_eq!(raw.response().text(), "1");
    raw.send(get_req("/both"));
    assert_eq!(raw.response().text(), "route 2");
    raw.send(get_req("/missing"));
    assert_eq!(raw.response().status, 500);
    raw.send(get_req("/why-missing"));
    let why = raw.response().text().to_owned();
    assert!(why.starts_with("no state of type `u64`"), "{why}");
    assert!(why.contains(std::any::type_name::<Hits>()), "{why}");
});
