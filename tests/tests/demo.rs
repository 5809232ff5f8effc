//! The `roadrunner-demo` binary, on both runtimes (built and started by the shared
//! helpers in `roadrunner_tests::demo`).

use roadrunner_core::http::StatusCode;
use roadrunner_tests::{json_num, json_value, start_demo, Adapter, Hyper};

fn check_demo(adapter: Adapter) {
    let demo = start_demo(adapter, "http", &[]);
    let mut c = Hyper::connect(demo.port);

    let r = c.get("/");
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .is_some_and(|ct| ct.starts_with("text/plain")),
        "{:?}",
        r.headers
    );
    assert_eq!(r.text(), "Hello, world!");

    let r = c.post("/echo", "application/json", r#"{"echo":[1,2,3]}"#);
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"echo":[1,2,3]}"#);

    let r = c.get("/hello/Ada");
    assert_eq!((r.status, r.text()), (StatusCode::OK, "Hello, Ada!"));

    let r = c.get("/info");
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    let json = r.text().trim();
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    let num = |name: &str| json_num(json, name);
    assert_eq!(num("active_clients"), 1, "{json}");
    assert_eq!(num("max_clients"), 150, "{json}");
    assert!(num("requests_served") >= 4, "{json}");
    assert_eq!(num("rejected"), 0, "{json}");
    assert_eq!(num("throttled"), 0, "{json}");
    let mcr = json_value(json, "max_concurrent_requests")
        .unwrap_or_else(|| panic!("no field max_concurrent_requests in {json}"));
    assert!(
        mcr == "\"infinity\"" || mcr.parse::<u64>().is_ok(),
        "max_concurrent_requests = {mcr}"
    );

    let r = c.get("/no/such/path");
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[test]
fn demo_tokio() {
    check_demo(Adapter::Tokio);
}

#[test]
fn demo_smol() {
    check_demo(Adapter::Smol);
}
