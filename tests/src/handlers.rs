//! Handlers shared by several test files.

use roadrunner_core::{Request, RequestExt, Response};

/// Echoes the request body, with the request's content type when it has one.
pub async fn echo(req: Request) -> Response {
    let ct = req.headers().get(http::header::CONTENT_TYPE).cloned();
    let mut resp = Response::new(req.into_body());
    if let Some(ct) = ct {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, ct);
    }
    resp
}

/// Streams `ab`, `c`, then the trailer `x-sum: 3`.
pub async fn with_trailers(_req: Request) -> Response {
    let mut t = http::HeaderMap::new();
    t.insert("x-sum", http::HeaderValue::from_static("3"));
    let frames = vec![
        roadrunner_core::Frame::Data(bytes::Bytes::from_static(b"ab")),
        roadrunner_core::Frame::Data(bytes::Bytes::from_static(b"c")),
        roadrunner_core::Frame::Trailers(t),
    ];
    Response::new(roadrunner_core::Body::from_stream(smol::stream::iter(
        frames,
    )))
}

/// The size of the field [`fat_head`] and [`fat_trailers`] add, past what a client
/// that allows 1 KiB of header fields takes.
pub const FAT_FIELD: usize = 2000;

/// Answers `fat` with an `x-fat` header of [`FAT_FIELD`] bytes.
pub async fn fat_head(_req: Request) -> Response {
    let mut resp = Response::new("fat".into());
    let value = http::HeaderValue::from_str(&"f".repeat(FAT_FIELD)).expect("a valid value");
    resp.headers_mut().insert("x-fat", value);
    resp
}

/// Answers `fat` with trailers carrying an `x-fat` field of [`FAT_FIELD`] bytes.
pub async fn fat_trailers(_req: Request) -> Response {
    let mut t = http::HeaderMap::new();
    let value = http::HeaderValue::from_str(&"f".repeat(FAT_FIELD)).expect("a valid value");
    t.insert("x-fat", value);
    let frames = vec![
        roadrunner_core::Frame::Data(bytes::Bytes::from_static(b"fat")),
        roadrunner_core::Frame::Trailers(t),
    ];
    Response::new(roadrunner_core::Body::from_stream(smol::stream::iter(
        frames,
    )))
}

/// Answers with the request path.
pub async fn path(req: Request) -> String {
    req.uri().path().to_owned()
}

/// Answers `peer_port` (the port of the client's socket as the server sees it).
pub async fn peer_port(req: Request) -> String {
    req.peer_addr().map(|a| a.port()).unwrap_or(0).to_string()
}
