//! Routing: the four forms of `routes`, bindings, first match, 404, 405 + Allow, HEAD.

use std::collections::BTreeSet;

use roadrunner_core::http::{HeaderValue, Method, StatusCode};
use roadrunner_core::{Endpoint, Next, Request, RequestExt, Route, Routes};
use roadrunner_tests::{both, get_req, opts, Adapter, Hyper, Raw, Server};

struct Greeting(&'static str);

fn start(adapter: Adapter, routes: Routes) -> (Server, Hyper) {
    let server = Server::start(adapter, opts(routes));
    let client = Hyper::connect(server.port());
    (server, client)
}

fn allow_set(v: Option<&str>) -> BTreeSet<String> {
    v.expect("an Allow header")
        .split(',')
        .map(|m| m.trim().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

both!(single_handler_answers_every_path_and_method, |adapter| {
    let (_s, mut c) = start(
        adapter,
        Routes::handler(|req: Request| async move {
            format!("single {} {}", req.method(), req.uri().path())
        }),
    );
    let r = c.get("/");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "single GET /");
    let r = c.call("DELETE", "/any/where?q=1", b"");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "single DELETE /any/where");
    // A plain string becomes text/plain.
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
});

both!(single_handler_with_state, |adapter| {
    let (_s, mut c) = start(
        adapter,
        Routes::handler_with_state(
            |req: Request| async move {
                let g = req.state::<Greeting>().map_or("none", |g| g.0);
                // Downcasting to another type finds nothing.
                let wrong = req.state::<String>().is_err();
                format!("{g} wrong-type-none={wrong}")
            },
            Greeting("hi from state"),
        ),
    );
    let r = c.get("/x");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "hi from state wrong-type-none=true");
});

both!(single_endpoint_with_its_own_middleware, |adapter| {
    let ep = Endpoint::new(|req: Request| async move {
        let seen = req
            .headers()
            .get("x-from-mw")
            .map(|v| v.to_str().unwrap_or("?").to_owned())
            .unwrap_or_default();
        format!("{}|{seen}", req.state::<Greeting>().map_or("none", |g| g.0))
    })
    .state(Greeting("ep-state"))
    .middleware(|mut req: Request, next: Next| async move {
        req.headers_mut()
            .insert("x-from-mw", HeaderValue::from_static("in"));
        let mut resp = next.run(req).await;
        resp.headers_mut()
            .insert("x-mw", HeaderValue::from_static("out"));
        resp
    });
    let (_s, mut c) = start(adapter, Routes::Single(ep));
    let r = c.get("/whatever");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "ep-state|in");
    assert_eq!(r.header("x-mw"), Some("out"));
});

fn list_routes() -> Routes {
    Routes::list([
        Route::get("/", |_req: Request| async { "root" }),
        Route::get("/users/:id/posts/:post", |req: Request| async move {
            format!(
                "id={} post={}",
                req.param("id").unwrap_or("-"),
                req.param("post").unwrap_or("-")
            )
        }),
        Route::get("/files/*path", |req: Request| async move {
            format!("path=[{}]", req.param("path").unwrap_or("unbound"))
        }),
        // First match wins: the literal route is listed before the parameter route.
        Route::get("/over/special", |_req: Request| async { "literal" }),
        Route::get("/over/:x", |req: Request| async move {
            format!("param {}", req.param("x").unwrap_or("-"))
        }),
        // ... and here the parameter route is first, so the literal one is shadowed.
        Route::get("/shadow/:x", |_req: Request| async { "first" }),
        Route::get("/shadow/lit", |_req: Request| async { "second" }),
        Route::post("/only-post", |_req: Request| async { "posted" }),
        Route::new("/put-delete", |req: Request| async move {
            req.method().to_string()
        })
        .methods([Method::PUT, Method::DELETE]),
        // Same path, two routes restricted to different methods.
        Route::get("/m", |_req: Request| async { "m-get" }),
        Route::post("/m", |_req: Request| async { "m-post" }),
        Route::new(
            "/any",
            |req: Request| async move { req.method().to_string() },
        ),
        Route::get("/state", |req: Request| async move {
            req.state::<Greeting>().map_or("none", |g| g.0)
        })
        .state(Greeting("route-state")),
        Route::get("/status", |_req: Request| async {
            (StatusCode::CREATED, "made")
        }),
        Route::get("/bare-status", |_req: Request| async {
            StatusCode::ACCEPTED
        }),
    ])
}

both!(route_list_params_and_wildcards, |adapter| {
    let (_s, mut c) = start(adapter, list_routes());
    let r = c.get("/");
    assert_eq!((r.status, r.text()), (StatusCode::OK, "root"));
    let r = c.get("/users/42/posts/7");
    assert_eq!((r.status, r.text()), (StatusCode::OK, "id=42 post=7"));
    // Bindings are percent-decoded.
    let r = c.get("/users/J%C3%B6rg/posts/x%20y");
    assert_eq!((r.status, r.text()), (StatusCode::OK, "id=Jörg post=x y"));
    let r = c.get("/files/a/b/c.txt");
    assert_eq!((r.status, r.text()), (StatusCode::OK, "path=[a/b/c.txt]"));
    let r = c.get("/files/");
    assert_eq!((r.status, r.text()), (StatusCode::OK, "path=[]"));
    let r = c.get("/files");
    assert_eq!((r.status, r.text()), (StatusCode::OK, "path=[]"));
    // A `:param` binds exactly one segment.
    let r = c.get("/users/42/posts/7/extra");
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The query is not part of the path.
    let r = c.get("/users/1/posts/2?x=/y");
    assert_eq!((r.status, r.text()), (StatusCode::OK, "id=1 post=2"));
    let r = c.get("/state");
    assert_eq!((r.status, r.text()), (StatusCode::OK, "route-state"));
    let r = c.get("/status");
    assert_eq!((r.status, r.text()), (StatusCode::CREATED, "made"));
    let r = c.get("/bare-status");
    assert_eq!(r.status, StatusCode::ACCEPTED);
});

both!(first_match_wins, |adapter| {
    let (_s, mut c) = start(adapter, list_routes());
    assert_eq!(c.get("/over/special").text(), "literal");
    assert_eq!(c.get("/over/other").text(), "param other");
    assert_eq!(c.get("/shadow/lit").text(), "first");
    assert_eq!(c.get("/shadow/zzz").text(), "first");
});

both!(unmatched_path_is_404, |adapter| {
    let (_s, mut c) = start(adapter, list_routes());
    for path in ["/nope", "/users/1", "/over", "/over/a/b", "/ROOT"] {
        let r = c.get(path);
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.header("allow").is_none(), "{path}: 404 with Allow");
    }
    let r = c.call("POST", "/nope", b"body");
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

both!(method_restriction_is_405_with_allow, |adapter| {
    let (_s, mut c) = start(adapter, list_routes());
    let r = c.get("/only-post");
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(allow_set(r.header("allow")), set(&["POST"]));
    assert_eq!(c.call("POST", "/only-post", b"").text(), "posted");

    let r = c.call("POST", "/", b"");
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(allow_set(r.header("allow")), set(&["GET", "HEAD"]));

    let r = c.call("PATCH", "/put-delete", b"");
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(allow_set(r.header("allow")), set(&["PUT", "DELETE"]));
    assert_eq!(c.call("PUT", "/put-delete", b"").text(), "PUT");
    assert_eq!(c.call("DELETE", "/put-delete", b"").text(), "DELETE");

    // Two routes for one path: the method picks the route, the 405 lists both.
    assert_eq!(c.get("/m").text(), "m-get");
    assert_eq!(c.call("POST", "/m", b"").text(), "m-post");
    let r = c.call("PUT", "/m", b"");
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(allow_set(r.header("allow")), set(&["GET", "HEAD", "POST"]));

    // An unrestricted route answers any method.
    assert_eq!(c.call("OPTIONS", "/any", b"").text(), "OPTIONS");
    assert_eq!(c.call("PATCH", "/any", b"").text(), "PATCH");
});

both!(head_on_get_route_has_length_and_no_body, |adapter| {
    let s = Server::start(adapter, opts(list_routes()));
    // hyper's view.
    let mut c = Hyper::connect(s.port());
    let r = c.call("HEAD", "/users/1/posts/2", b"");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-length"), Some("11"));
    assert!(r.body.is_empty());
    // The exact bytes: HEAD then GET pipelined; the GET response must start right
    // after the HEAD head, so the HEAD response carried no body bytes.
    let mut raw = Raw::connect(s.port());
    raw.send(format!(
        "HEAD /users/1/posts/2 HTTP/1.1\r\nHost: t\r\n\r\n{}",
        get_req("/")
    ));
    let head = raw.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("11"));
    let get = raw.response();
    assert_eq!(get.status, 200, "the response after HEAD is the GET's");
    assert_eq!(get.text(), "root");
    // And a 404/405 to HEAD also has no body.
    raw.send("HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = raw.head_response();
    assert_eq!(r.status, 404);
    raw.send("HEAD /only-post HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = raw.head_response();
    assert_eq!(r.status, 405);
    raw.send(get_req("/"));
    assert_eq!(raw.response().text(), "root");
});

both!(one_constructor_per_method, |adapter| {
    let echo = |req: Request| async move { req.method().to_string() };
    let (_s, mut c) = start(
        adapter,
        Routes::list([
            Route::put("/put", echo),
            Route::delete("/delete", echo),
            Route::patch("/patch", echo),
            Route::head("/head", |_req: Request| async { "not sent" }),
            Route::options("/options", echo),
            Route::any("/any", echo),
        ]),
    );
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        let path = format!("/{}", method.to_lowercase());
        let r = c.call(method, &path, b"");
        assert_eq!((r.status, r.text()), (StatusCode::OK, method), "{path}");
        let r = c.call("POST", &path, b"");
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(allow_set(r.header("allow")), set(&[method]), "{path}");
    }
    let r = c.call("HEAD", "/head", b"");
    assert_eq!(
        (r.status, r.header("content-length")),
        (StatusCode::OK, Some("8"))
    );
    let r = c.get("/head");
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(allow_set(r.header("allow")), set(&["HEAD"]));
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        assert_eq!(c.call(method, "/any", b"").text(), method);
    }
});

both!(the_query_string_is_decoded_by_name, |adapter| {
    let (_s, mut c) = start(
        adapter,
        Routes::handler(|req: Request| async move {
            let q = req.query("q").unwrap_or_default().into_owned();
            let pages: Vec<_> = req
                .query_pairs()
                .filter(|(n, _)| n == "page")
                .map(|(_, v)| v.into_owned())
                .collect();
            format!("q=[{q}] pages={pages:?} missing={:?}", req.query("nope"))
        }),
    );
    let r = c.get("/search?q=red+shoes%21&page=2&page=3");
    assert_eq!(r.text(), r#"q=[red shoes!] pages=["2", "3"] missing=None"#);
});
