//! Handler context: peer address, listener name, request ids, state.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use roadrunner_core::{Request, RequestExt, Route, Routes};
use roadrunner_tests::{both, get_req, opts, Raw, Server};

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
                Some(s) => format!("{}:{}", s.name, s.n),
                None => "no state".to_owned(),
            }
        })
        .state(AppState { name: "app", n: 7 }),
        Route::get("/no-state", |req: Request| async move {
            format!("{}", req.state::<AppState>().is_none())
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
