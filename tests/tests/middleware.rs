//! Middleware: order (listener outside route, first outermost), short-circuit, changing
//! the request and the response, watching a response to its end.

mod kinds;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use roadrunner_core::http::{HeaderValue, StatusCode};
use roadrunner_core::{
    on_complete, status_response, Completion, Endpoint, Middleware, Next, Request, Response, Route,
    Routes,
};
use roadrunner_tests::{both, get_req, opts, Hyper, Raw, Server, IO_TIMEOUT};

type Log = Arc<Mutex<Vec<String>>>;

/// A middleware that logs `name>` on the way in and `<name` on the way out.
fn recorder(log: &Log, name: &'static str) -> impl Middleware {
    let log = log.clone();
    move |req: Request, next: Next| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(format!("{name}>"));
            let resp = next.run(req).await;
            log.lock().unwrap().push(format!("<{name}"));
            resp
        }
    }
}

fn handler(log: &Log) -> impl Fn(Request) -> std::future::Ready<&'static str> + Send + Sync {
    let log = log.clone();
    move |_req: Request| {
        log.lock().unwrap().push("H".to_owned());
        std::future::ready("done")
    }
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

both!(
    listener_middlewares_wrap_route_middlewares_first_is_outermost,
    |adapter| {
        let log: Log = Arc::default();
        let routes = Routes::list([Route::get("/r", handler(&log))
            .middleware(recorder(&log, "R1"))
            .middleware(recorder(&log, "R2"))]);
        let mut o = opts(routes);
        o.middlewares.push(recorder(&log, "L1"));
        o.middlewares.push(recorder(&log, "L2"));
        let s = Server::start(adapter, o);
        let mut c = Hyper::connect(s.port());
        let r = c.get("/r");
        assert_eq!((r.status, r.text()), (StatusCode::OK, "done"));
        assert_eq!(
            take(&log),
            ["L1>", "L2>", "R1>", "R2>", "H", "<R2", "<R1", "<L2", "<L1"]
        );
        // A 404 (and a 405) still goes through the listener's middlewares, not the route's.
        assert_eq!(c.get("/nope").status, StatusCode::NOT_FOUND);
        assert_eq!(take(&log), ["L1>", "L2>", "<L2", "<L1"]);
        assert_eq!(
            c.call("POST", "/r", b"").status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(take(&log), ["L1>", "L2>", "<L2", "<L1"]);
    }
);

both!(
    single_endpoint_middlewares_run_inside_listener_ones,
    |adapter| {
        let log: Log = Arc::default();
        let ep = Endpoint::new(handler(&log))
            .middleware(recorder(&log, "E1"))
            .middleware(recorder(&log, "E2"));
        let mut o = opts(Routes::Single(ep));
        o.middlewares.push(recorder(&log, "L1"));
        let s = Server::start(adapter, o);
        let r = Hyper::connect(s.port()).get("/anything");
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(take(&log), ["L1>", "E1>", "E2>", "H", "<E2", "<E1", "<L1"]);
    }
);

both!(short_circuit_never_runs_the_handler, |adapter| {
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    let auth = |req: Request, next: Next| async move {
        if req.headers().contains_key("authorization") {
            next.run(req).await
        } else {
            status_response(StatusCode::UNAUTHORIZED)
        }
    };
    let routes = Routes::list([Route::get("/secret", move |_req: Request| {
        ran2.store(true, Ordering::SeqCst);
        std::future::ready("secret")
    })
    .middleware(auth)]);
    let s = Server::start(adapter, opts(routes));
    let mut c = Hyper::connect(s.port());
    let r = c.get("/secret");
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.text(), "Unauthorized");
    assert!(
        !ran.load(Ordering::SeqCst),
        "the handler ran despite the 401"
    );
    // The connection is still usable and the handler runs when allowed.
    let req = c
        .req("GET", "/secret")
        .header("authorization", "Bearer x")
        .body(Default::default())
        .unwrap();
    let r = c.send(req);
    assert_eq!((r.status, r.text()), (StatusCode::OK, "secret"));
    assert!(ran.load(Ordering::SeqCst));
});

both!(listener_middleware_short_circuit_skips_routing, |adapter| {
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    let routes = Routes::list([Route::get("/x", move |_req: Request| {
        ran2.store(true, Ordering::SeqCst);
        std::future::ready("x")
    })]);
    let mut o = opts(routes);
    o.middlewares.push(|_req: Request, _next: Next| async move {
        let mut r = Response::new("blocked".into());
        *r.status_mut() = StatusCode::FORBIDDEN;
        r
    });
    let s = Server::start(adapter, o);
    let mut c = Hyper::connect(s.port());
    let r = c.get("/x");
    assert_eq!((r.status, r.text()), (StatusCode::FORBIDDEN, "blocked"));
    // Even an unknown path is answered by the middleware, not with 404.
    assert_eq!(c.get("/unknown").status, StatusCode::FORBIDDEN);
    assert!(!ran.load(Ordering::SeqCst));
});

both!(middleware_changes_request_and_response, |adapter| {
    let routes = Routes::list([Route::get("/echo-header", |req: Request| async move {
        let v = req
            .headers()
            .get("x-injected")
            .map(|v| v.to_str().unwrap().to_owned());
        v.unwrap_or_else(|| "missing".to_owned())
    })]);
    let mut o = opts(routes);
    o.middlewares
        .push(|mut req: Request, next: Next| async move {
            req.headers_mut()
                .insert("x-injected", HeaderValue::from_static("by-middleware"));
            let mut resp = next.run(req).await;
            resp.headers_mut()
                .insert("x-processed", HeaderValue::from_static("true"));
            *resp.status_mut() = StatusCode::ACCEPTED;
            resp
        });
    let s = Server::start(adapter, o);
    let r = Hyper::connect(s.port()).get("/echo-header");
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.text(), "by-middleware");
    assert_eq!(r.header("x-processed"), Some("true"));
});

// The test holds the body open on a gate: a middleware timing the request must not
// hear of its end while the body is held, and must when it ends or is cut short.
both!(
    a_middleware_sees_the_end_of_a_streamed_response,
    |adapter| {
        use std::sync::mpsc;
        use std::time::{Duration, Instant};

        let (gate, pass) = kinds::gate();
        let fail_pass = pass.clone();
        let routes = Routes::list([
            Route::get("/held", move |_req: Request| {
                std::future::ready(kinds::held_stream(pass.clone(), false))
            }),
            Route::get("/fails", move |_req: Request| {
                std::future::ready(kinds::held_stream(fail_pass.clone(), true))
            }),
            Route::get("/plain", |_req: Request| async { "plain" }),
        ]);
        let (tx, ended) = mpsc::channel::<(String, Completion, Duration)>();
        let mut o = opts(routes);
        o.middlewares.push(move |req: Request, next: Next| {
            let tx = tx.clone();
            async move {
                let (path, start) = (req.uri().path().to_owned(), Instant::now());
                let mut resp = next.run(req).await;
                on_complete(&mut resp, move |end| {
                    let _ = tx.send((path, end, start.elapsed()));
                });
                resp
            }
        });
        let s = Server::start(adapter, o);

        let mut w = kinds::TcpWire::connect(s.port());
        w.send(get_req("/held"));
        assert_eq!(w.head().status, 200);
        assert_eq!(w.chunk(), kinds::Chunk::Data(b"first".to_vec()));
        let first_seen = Instant::now();
        // Another request, started later, is told of its end first.
        let mut other = Raw::connect(s.port());
        other.send(get_req("/plain"));
        assert_eq!(other.response().text(), "plain");
        let (path, end, _) = ended.recv_timeout(IO_TIMEOUT).expect("/plain ended");
        assert_eq!(
            (path.as_str(), end.status, end.complete),
            ("/plain", StatusCode::OK, true)
        );
        assert!(
            ended.try_recv().is_err(),
            "told of the end of a body still held"
        );
        let held_for = first_seen.elapsed();
        gate.open();
        let (rest, _) = w.rest_of_chunked();
        assert_eq!(rest, b"last");
        let (path, end, took) = ended.recv_timeout(IO_TIMEOUT).expect("/held ended");
        assert_eq!(
            (path.as_str(), end.status, end.complete),
            ("/held", StatusCode::OK, true)
        );
        assert!(
            took >= held_for,
            "{took:?}, but the body was held for {held_for:?}"
        );

        let mut w = kinds::TcpWire::connect(s.port());
        w.send(get_req("/fails"));
        assert_eq!(w.head().status, 200);
        assert_eq!(w.chunk(), kinds::Chunk::Data(b"first".to_vec()));
        gate.open();
        let _ = w.read_until_close();
        let (path, end, _) = ended.recv_timeout(IO_TIMEOUT).expect("/fails ended");
        assert_eq!((path.as_str(), end.complete), ("/fails", false));
    }
);
