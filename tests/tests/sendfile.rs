//! File bodies: `Body::file(file, offset, len)` and `Body::open(path)` send exactly
//! the region asked for, with `sendfile(2)` on plain TCP and by reading and writing
//! over TLS (the fallback path); HEAD gets the length without the bytes, and the
//! connection is kept alive after a file response.

mod kinds;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use kinds::{TempFile, TlsKit, Wire};
use roadrunner_core::http::StatusCode;
use roadrunner_core::{Body, Request, RequestExt, Response, Route, Routes};
use roadrunner_tests::{both, get_req, opts, Adapter, Hyper, Server};

const SIZE: u64 = 3 * 1024 * 1024;

/// Byte `i` of the test file: not periodic at any small or power-of-two stride, so
/// a region sent from the wrong offset cannot match.
fn pattern() -> Vec<u8> {
    (0..SIZE)
        .map(|i| ((i % 251) as u8) ^ ((i >> 13) as u8))
        .collect()
}

struct Shared {
    path: PathBuf,
}

async fn region(req: Request) -> Response {
    let st = req.state::<Arc<Shared>>().expect("state");
    let offset: u64 = kinds::query(&req, "offset").unwrap_or(0);
    let len: u64 = kinds::query(&req, "len").unwrap_or(SIZE);
    let file = std::fs::File::open(&st.path).expect("open the test file");
    let mut resp = Response::new(Body::file(file, offset, len));
    resp.headers_mut()
        .insert("content-type", "application/octet-stream".parse().unwrap());
    resp
}

async fn whole(req: Request) -> Response {
    let st = req.state::<Arc<Shared>>().expect("state");
    Response::new(Body::open(&st.path).expect("Body::open"))
}

struct Fixture {
    server: Server,
    bytes: Vec<u8>,
    _file: TempFile,
}

fn start(adapter: Adapter, tls: Option<&TlsKit>) -> Fixture {
    let bytes = pattern();
    let file = TempFile::with("sendfile", &bytes);
    let st = Arc::new(Shared {
        path: file.path().to_owned(),
    });
    let routes = Routes::list([
        Route::get("/", |_req: Request| async { "ok" }),
        Route::get("/file", region).state(st.clone()),
        Route::get("/open", whole).state(st),
    ]);
    let mut o = opts(routes);
    o.tls = tls.map(|k| k.server.clone());
    Fixture {
        server: Server::start(adapter, o),
        bytes,
        _file: file,
    }
}

/// (offset, len): whole, a middle region at odd bounds, the last byte, the first
/// byte, an empty region.
const REGIONS: [(u64, u64); 5] = [
    (0, SIZE),
    (1_000_003, 1_234_567),
    (SIZE - 1, 1),
    (0, 1),
    (100, 0),
];

/// Every region on one kept-alive connection, then HEAD, then a plain request.
fn check_regions<S: Read + Write>(w: &mut Wire<S>, bytes: &[u8]) {
    for (offset, len) in REGIONS {
        w.send(get_req(&format!("/file?offset={offset}&len={len}")));
        let r = w.response();
        assert_eq!(r.status, 200, "region {offset}+{len}: {:?}", r.headers);
        assert_eq!(
            r.header("content-length"),
            Some(len.to_string().as_str()),
            "region {offset}+{len}"
        );
        assert!(!r.has_token("connection", "close"), "region {offset}+{len}");
        let want = &bytes[offset as usize..(offset + len) as usize];
        assert!(
            r.body == want,
            "region {offset}+{len}: got {} bytes, first difference at {:?}",
            r.body.len(),
            r.body.iter().zip(want).position(|(a, b)| a != b)
        );
    }
    // HEAD: the length, no bytes. Were any sent, the next response would not parse.
    w.send(format!(
        "HEAD /file?offset=0&len={SIZE} HTTP/1.1\r\nHost: t\r\n\r\n"
    ));
    let r = w.head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(SIZE.to_string().as_str()));
    w.send(get_req("/"));
    let r = w.response();
    assert_eq!((r.status, r.text()), (200, "ok"), "after HEAD: {r:?}");
    assert!(w.buffer_is_empty(), "bytes left over after HEAD");
}

both!(regions_over_plain_tcp, |adapter| {
    let f = start(adapter, None);
    let mut w = kinds::TcpWire::connect(f.server.port());
    check_regions(&mut w, &f.bytes);
});

both!(regions_over_tls, |adapter| {
    let kit = kinds::tls_kit();
    let f = start(adapter, Some(&kit));
    let mut w = kit.connect(f.server.port());
    check_regions(&mut w, &f.bytes);
});

both!(body_open_serves_the_whole_file, |adapter| {
    let f = start(adapter, None);
    let mut c = Hyper::connect(f.server.port());
    let r = c.get("/open");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-length"), Some(SIZE.to_string().as_str()));
    assert!(r.body == f.bytes, "Body::open: wrong bytes");
    // Twice on the same connection, and a region after it.
    let r = c.get("/open");
    assert!(r.body == f.bytes, "second Body::open: wrong bytes");
    let r = c.get("/file?offset=7&len=9");
    assert_eq!(&r.body[..], &f.bytes[7..16]);
});

both!(body_open_over_tls, |adapter| {
    let kit = kinds::tls_kit();
    let f = start(adapter, Some(&kit));
    let mut w = kit.connect(f.server.port());
    w.send(get_req("/open"));
    let r = w.response();
    assert_eq!(r.status, 200);
    assert!(r.body == f.bytes, "Body::open over TLS: wrong bytes");
});
