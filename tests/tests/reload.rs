//! Route reloads (`reload_routes`): the swap itself, its errors, reloads under
//! concurrent load, requests in flight across a reload, and named listeners
//! (`ListenerRef::lookup`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use roadrunner_core::{
    ListenerRef, Next, Options, ReloadError, Request, Route, RouteError, Routes, StartError,
};
use roadrunner_tests::{both, hyper_get, opts, unique_name, wait_until, Hyper, Server};

/// A table whose `/x` answers `tag`.
fn table(tag: &'static str) -> Routes {
    Routes::list([Route::get("/x", move |_req: Request| async move { tag })])
}

/// Adds `x-mw: on` to every response.
fn with_marker(mut o: Options) -> Options {
    o.middlewares.push(|req: Request, next: Next| async move {
        let mut resp = next.run(req).await;
        resp.headers_mut()
            .insert("x-mw", HeaderValue::from_static("on"));
        resp
    });
    o
}

both!(reload_swaps_the_table, |adapter| {
    let s = Server::start(adapter, with_marker(opts(table("A"))));
    let mut c = Hyper::connect(s.port());
    let r = c.get("/x");
    assert_eq!((r.status.as_u16(), r.text()), (200, "A"));
    assert_eq!(r.header("x-mw"), Some("on"));
    assert_eq!(c.get("/y").status, 404, "/y before the reload");

    s.listener()
        .reload_routes(Routes::list([
            Route::get("/x", |_req: Request| async { "B" }),
            Route::get("/y", |_req: Request| async { "B-y" }),
        ]))
        .expect("reload");
    // The same kept-alive connection and a new one both see the new table, still
    // wrapped in the listener's middleware.
    for (what, r) in [
        ("kept-alive /x", c.get("/x")),
        ("new connection /x", hyper_get(s.port(), "/x")),
    ] {
        assert_eq!((r.status.as_u16(), r.text()), (200, "B"), "{what}");
        assert_eq!(r.header("x-mw"), Some("on"), "{what}: middleware lost");
    }
    let r = c.get("/y");
    assert_eq!((r.status.as_u16(), r.text()), (200, "B-y"));
    assert_eq!(r.header("x-mw"), Some("on"));
});

both!(a_bad_table_is_refused_and_the_old_one_stays, |adapter| {
    let s = Server::start(adapter, opts(table("A")));
    let refused = s.listener().reload_routes(Routes::list([
        Route::get("/z", |_req: Request| async { "new" }),
        Route::get("no-slash", |_req: Request| async { "bad" }),
    ]));
    match refused {
        Err(ReloadError::Route(RouteError { pattern, .. })) => assert_eq!(pattern, "no-slash"),
        other => panic!("expected ReloadError::Route, got {other:?}"),
    }
    let mut c = Hyper::connect(s.port());
    assert_eq!(c.get("/x").text(), "A", "the old table must stay");
    assert_eq!(c.get("/z").status, 404, "part of the refused table is live");
    // A good table is still accepted afterwards.
    s.listener().reload_routes(table("C")).expect("reload");
    assert_eq!(c.get("/x").text(), "C");
});

both!(single_handler_mode_has_no_routes_to_reload, |adapter| {
    let s = Server::start(
        adapter,
        opts(Routes::handler(|_req: Request| async { "one" })),
    );
    assert_eq!(
        s.listener().reload_routes(table("B")).unwrap_err(),
        ReloadError::NoRoutes
    );
    assert_eq!(hyper_get(s.port(), "/x").text(), "one", "still the handler");
});

both!(reloads_under_load_never_fail_a_request, |adapter| {
    const CLIENTS: usize = 4;
    const RELOADS: usize = 50;
    /// Requests each client makes once the last reload has returned.
    const AFTER: usize = 20;
    /// Small, so every client also crosses connections during the reloads: a table
    /// swap must reach new connections as well as kept-alive ones.
    const PER_CONN: u32 = 25;
    let tables = ["A", "B"];
    let last = tables[(RELOADS - 1) % 2];
    let mut o = with_marker(opts(table("B")));
    o.max_keep_alive_requests = PER_CONN;
    let s = Server::start(adapter, o);
    let port = s.port();
    let done = Arc::new(AtomicBool::new(false));
    // Requests each client has had answered, so that reloads interleave with every
    // client's traffic and no client runs far ahead of the others.
    let progress: Arc<Vec<AtomicUsize>> = Arc::new((0..CLIENTS).map(|_| 0.into()).collect());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (done, progress) = (done.clone(), progress.clone());
            std::thread::spawn(move || {
                let mut c = Hyper::connect(port);
                let (mut after, mut on_conn) = (0, 0);
                for n in 0.. {
                    let reloads_over = done.load(Ordering::SeqCst);
                    let r = c.get("/x");
                    assert_eq!(r.status, 200, "client {i}, request {n}: {r:?}");
                    assert!(
                        tables.contains(&r.text()),
                        "client {i}, request {n}: answer {:?}",
                        r.text()
                    );
                    assert_eq!(r.header("x-mw"), Some("on"), "client {i}, request {n}");
                    on_conn += 1;
                    // The server ends a connection after its last allowed request and
                    // says so; a client that honours it never sends into a closed one.
                    let closing = r.header("connection") == Some("close");
                    assert_eq!(closing, on_conn == PER_CONN, "client {i}, request {n}");
                    if closing {
                        c = Hyper::connect(port);
                        on_conn = 0;
                    }
                    progress[i].fetch_add(1, Ordering::SeqCst);
                    if reloads_over {
                        assert_eq!(
                            r.text(),
                            last,
                            "client {i}, request {n} sent after the last reload"
                        );
                        after += 1;
                        if after == AFTER {
                            return n + 1;
                        }
                    }
                }
                unreachable!("the loop returns")
            })
        })
        .collect();
    for k in 0..RELOADS {
        let seen: Vec<usize> = progress.iter().map(|p| p.load(Ordering::SeqCst)).collect();
        // A safety net only: on a loaded machine a round takes milliseconds.
        assert!(
            wait_until(Duration::from_secs(60), || progress
                .iter()
                .zip(&seen)
                .all(|(p, &was)| p.load(Ordering::SeqCst) > was)),
            "a client made no progress before reload {k}"
        );
        s.listener()
            .reload_routes(table(tables[k % 2]))
            .expect("reload");
    }
    done.store(true, Ordering::SeqCst);
    let mut total = 0;
    for c in clients {
        total += c.join().expect("client thread") as u64;
    }
    assert_eq!(hyper_get(port, "/x").text(), last);
    assert_eq!(s.info().requests_served, total + 1);
});

both!(a_request_in_flight_keeps_its_table, |adapter| {
    let started = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let (st, rel) = (started.clone(), release.clone());
    let old = Routes::list([Route::get("/slow", move |_req: Request| {
        st.fetch_add(1, Ordering::SeqCst);
        let rel = rel.clone();
        // `Notify` is runtime-neutral: it waits on either adapter.
        async move {
            rel.notified().await;
            "old"
        }
    })]);
    let s = Server::start(adapter, opts(old));
    let port = s.port();
    let in_flight = std::thread::spawn(move || hyper_get(port, "/slow"));
    assert!(
        wait_until(Duration::from_secs(5), || started.load(Ordering::SeqCst)
            == 1),
        "the old handler did not start"
    );
    s.listener()
        .reload_routes(Routes::list([Route::get("/slow", |_req: Request| async {
            "new"
        })]))
        .expect("reload");
    assert_eq!(hyper_get(port, "/slow").text(), "new", "after the reload");
    release.notify_one();
    let r = in_flight.join().expect("in-flight client");
    assert_eq!((r.status.as_u16(), r.text()), (200, "old"));
    assert_eq!(started.load(Ordering::SeqCst), 1);
    let _ = adapter;
});

both!(named_listeners_can_be_looked_up, |adapter| {
    let name = unique_name("reload-named");
    assert!(ListenerRef::lookup(&name).is_none(), "before start");
    let mut s = Server::start_named(adapter, &name, opts(table("A")));
    let found = ListenerRef::lookup(&name).expect("lookup of a running listener");
    assert_eq!(found.name(), name);
    assert_eq!(found.port(), s.port());
    assert_eq!(found.local_addr(), s.listener().local_addr());
    assert_eq!(hyper_get(s.port(), "/x").text(), "A");
    assert_eq!(found.info(), s.info());
    assert_eq!(found.info().requests_served, 1);
    // The looked-up handle operates the same listener.
    found
        .reload_routes(table("B"))
        .expect("reload through lookup");
    assert_eq!(hyper_get(s.port(), "/x").text(), "B");

    match Server::try_start(adapter, &name, opts(table("C"))) {
        Err(StartError::NameInUse(n)) => assert_eq!(n, name),
        Err(e) => panic!("expected NameInUse, got {e:?}"),
        Ok(_) => panic!("two running listeners named {name}"),
    }
    assert_eq!(
        ListenerRef::lookup(&name).map(|l| l.port()),
        Some(s.port()),
        "the refused start replaced the registered listener"
    );

    s.stop();
    assert!(ListenerRef::lookup(&name).is_none(), "after stop()");
    let again = Server::start_named(adapter, &name, opts(table("D")));
    let found = ListenerRef::lookup(&name).expect("lookup of the new listener");
    assert_eq!(found.port(), again.port());
    assert_eq!(hyper_get(found.port(), "/x").text(), "D");
});
