//! Counters from `info()`: requests_served, active_clients, rejected (max_clients), and
//! a panicking handler.

use roadrunner_core::{Request, Route, Routes};
use roadrunner_tests::{both, get_req, opts, Adapter, Hyper, Raw, Server};

fn routes() -> Routes {
    Routes::list([
        Route::get("/", |_req: Request| async { "ok" }),
        Route::post("/", |_req: Request| async { "posted" }),
        Route::get("/panic", |_req: Request| async {
            if true {
                panic!("handler panic (expected by the test)");
            }
            "unreachable"
        }),
        Route::get("/sync-panic", sync_panic),
    ])
}

/// Panics while being called, before any future exists.
fn sync_panic(_req: Request) -> std::future::Ready<&'static str> {
    panic!("synchronous handler panic (expected by the test)")
}

fn server(adapter: Adapter, f: impl FnOnce(&mut roadrunner_core::Options)) -> Server {
    let mut o = opts(routes());
    f(&mut o);
    Server::start(adapter, o)
}

both!(requests_served_counts_parsed_requests_only, |adapter| {
    let s = server(adapter, |o| o.max_content_length = 8);
    assert_eq!(s.info().requests_served, 0);
    let mut raw = Raw::connect(s.port());
    raw.send(get_req("/"));
    assert_eq!(raw.response().status, 200);
    raw.send(get_req("/missing"));
    assert_eq!(raw.response().status, 404);
    raw.send("PUT / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(raw.response().status, 405);
    assert_eq!(s.info().requests_served, 3, "200, 404, 405");
    // 413 on an announced length: its head parsed, so it counts.
    let mut raw = Raw::connect(s.port());
    raw.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n");
    let all = raw.responses_until_close();
    assert_eq!(all.iter().map(|r| r.status).collect::<Vec<_>>(), [413]);
    assert_eq!(s.info().requests_served, 4, "a 413 counts as served");
    // 413 on a chunked body growing over the cap: counts too.
    let mut raw = Raw::connect(s.port());
    raw.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n0\r\n\r\n");
    let all = raw.responses_until_close();
    assert_eq!(all.iter().map(|r| r.status).collect::<Vec<_>>(), [413]);
    assert_eq!(
        s.info().requests_served,
        5,
        "a chunked 413 counts as served"
    );
    // Malformed heads do not count.
    for bad in [
        "garbage\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nX Y: z\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ] {
        let mut raw = Raw::connect(s.port());
        raw.send(bad);
        let all = raw.responses_until_close();
        assert_eq!(
            all.iter().map(|r| r.status).collect::<Vec<_>>(),
            [400],
            "{bad:?}"
        );
    }
    assert_eq!(s.info().requests_served, 5, "malformed requests counted");
});

both!(active_clients_follows_open_connections, |adapter| {
    let s = server(adapter, |_| {});
    assert_eq!(s.info().active_clients, 0);
    let mut conns: Vec<Raw> = (0..3).map(|_| Raw::connect(s.port())).collect();
    s.wait_info("3 active clients", |i| i.active_clients == 3);
    // A kept-alive connection that has been served is still active.
    conns[0].send(get_req("/"));
    assert_eq!(conns[0].response().status, 200);
    assert_eq!(s.info().active_clients, 3);
    drop(conns.pop());
    s.wait_info("2 active clients", |i| i.active_clients == 2);
    drop(conns);
    let info = s.wait_info("0 active clients", |i| i.active_clients == 0);
    assert_eq!(info.rejected, 0);
});

both!(max_clients_rejects_the_extra_connection, |adapter| {
    let s = server(adapter, |o| o.max_clients = 2);
    assert_eq!(s.info().max_clients, 2);
    let mut a = Raw::connect(s.port());
    let b = Raw::connect(s.port());
    s.wait_info("2 active clients", |i| i.active_clients == 2);
    let mut c = Raw::connect(s.port());
    // Closed at once, with nothing sent.
    c.expect_close();
    let info = s.wait_info("rejected = 1", |i| i.rejected == 1);
    assert_eq!(info.active_clients, 2);
    // The admitted ones are served.
    a.send(get_req("/"));
    assert_eq!(a.response().status, 200);
    // A slot freed is a slot available again.
    drop(b);
    s.wait_info("1 active client", |i| i.active_clients == 1);
    let mut d = Raw::connect(s.port());
    d.send(get_req("/"));
    assert_eq!(d.response().status, 200);
    assert_eq!(s.info().rejected, 1);
});

both!(handler_panic_is_a_500_and_the_server_survives, |adapter| {
    let s = server(adapter, |_| {});
    let mut bystander = Raw::connect(s.port());
    bystander.send(get_req("/"));
    assert_eq!(bystander.response().status, 200);
    for path in ["/panic", "/sync-panic"] {
        let mut raw = Raw::connect(s.port());
        // The request after the panicking one is not answered: the connection closes.
        raw.send(format!("{}{}", get_req(path), get_req("/")));
        let all = raw.responses_until_close();
        assert_eq!(
            all.iter().map(|r| r.status).collect::<Vec<_>>(),
            [500],
            "{path}: {all:?}"
        );
    }
    // Other connections, old and new, are still served.
    bystander.send(get_req("/"));
    assert_eq!(bystander.response().status, 200);
    assert_eq!(Hyper::connect(s.port()).get("/").status, 200);
    drop(bystander);
    s.wait_info("0 active clients after panics", |i| i.active_clients == 0);
});

both!(concurrent_clients_are_all_served_and_counted, |adapter| {
    let s = server(adapter, |_| {});
    let port = s.port();
    const CLIENTS: usize = 32;
    const EACH: usize = 20;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Hyper::connect(port);
                for _ in 0..EACH {
                    assert_eq!(c.get("/").text(), "ok");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let info = s.wait_info("0 active clients", |i| i.active_clients == 0);
    assert_eq!(info.requests_served, (CLIENTS * EACH) as u64);
    assert_eq!(info.rejected, 0);
});
