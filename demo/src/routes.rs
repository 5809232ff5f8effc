//! The demo's routes.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use roadrunner_core::http::{header, HeaderValue, Method, StatusCode};
use roadrunner_core::websocket::{websocket, Message, WebSocket, WsConfig, WsEvent};
use roadrunner_core::{
    text, Body, Frame, Info, ListenerRef, Request, RequestExt, Response, Route, Routes,
};

pub fn routes() -> Routes {
    Routes::list([
        Route::get("/", |_req: Request| async { "Hello, world!" }),
        Route::post("/echo", echo),
        Route::get("/hello/:name", |req: Request| async move {
            format!("Hello, {}!", req.param("name").unwrap_or_default())
        }),
        Route::get("/info", info),
        Route::get("/stream", stream),
        Route::get("/sleep", sleep_then_answer),
        Route::get("/big", big),
        // CONNECT too: WebSocket over HTTP/2 comes as an extended CONNECT.
        Route::new("/ws", websocket(WsConfig::default(), echo_ws))
            .methods([Method::GET, Method::CONNECT]),
        Route::get("/file", file_region).state(pattern_file()),
        Route::get("/panic", |_req: Request| async {
            panic!("the /panic route panics on purpose");
            #[allow(unreachable_code)]
            "unreachable"
        }),
    ])
}

/// `?chunks=N&delay_ms=D`: N chunks, D ms apart, sent as they are made.
async fn stream(req: Request) -> Response {
    let chunks: u32 = query(&req, "chunks").unwrap_or(5);
    let delay = Duration::from_millis(query(&req, "delay_ms").unwrap_or(100));
    let body = futures_lite::stream::unfold(0, move |i| {
        // The runtime's own timer, whichever runtime serves the request.
        let nap = (i > 0 && i < chunks).then(|| req.sleep(delay));
        async move {
            if i == chunks {
                return None;
            }
            if let Some(nap) = nap {
                nap.await;
            }
            Some((Frame::Data(format!("chunk {i}\n").into()), i + 1))
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Size of the demo's pattern file: byte `i` is `i % 251`.
const PATTERN_LEN: u64 = 1 << 20;

/// The pattern file served by `/file`: written, opened, and unlinked at once, so
/// it lives exactly as long as the process (each request sends from a duplicate of
/// the open descriptor).
fn pattern_file() -> Option<Arc<File>> {
    let path = std::env::temp_dir().join(format!("roadrunner-demo-{}.bin", std::process::id()));
    let bytes: Vec<u8> = (0..PATTERN_LEN).map(|i| (i % 251) as u8).collect();
    let file = std::fs::write(&path, bytes).and_then(|()| File::open(&path));
    let _ = std::fs::remove_file(&path);
    match file {
        Ok(file) => Some(Arc::new(file)),
        Err(e) => {
            eprintln!("roadrunner-demo: cannot make the /file pattern file: {e}");
            None
        }
    }
}

/// `?offset=O&len=L`: that region of the pattern file, sent with sendfile(2) where
/// the connection allows (plain TCP on Linux).
async fn file_region(req: Request) -> Response {
    let offset: u64 = query(&req, "offset").unwrap_or(0);
    let len: u64 = query(&req, "len").unwrap_or(PATTERN_LEN);
    if offset.checked_add(len).is_none_or(|end| end > PATTERN_LEN) {
        return text(StatusCode::RANGE_NOT_SATISFIABLE, "outside the file");
    }
    let Some(file) = req
        .state::<Option<Arc<File>>>()
        .and_then(|f| f.as_ref())
        .and_then(|f| f.try_clone().ok())
    else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "pattern file missing");
    };
    let mut resp = Response::new(Body::file(file, offset, len));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    resp
}

/// `?bytes=N`: N bytes (default 1 MiB) of `x`, streamed in 16 KiB pieces, never held
/// whole, for throughput and flow-control tests.
async fn big(req: Request) -> Response {
    const PIECE: u64 = 16 * 1024;
    let total: u64 = query(&req, "bytes").unwrap_or(1 << 20);
    let piece = bytes::Bytes::from(vec![b'x'; PIECE as usize]);
    let body = futures_lite::stream::unfold(total, move |left| {
        let piece = piece.clone();
        async move {
            (left > 0).then(|| {
                let n = left.min(PIECE);
                (Frame::Data(piece.slice(..n as usize)), left - n)
            })
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    resp
}

/// `?ms=D`: answers after D ms.
async fn sleep_then_answer(req: Request) -> String {
    let ms = query(&req, "ms").unwrap_or(100);
    // The one request a drain visibly waits on: saying when it is in flight lets an
    // operator (and the signal tests) see that happen.
    eprintln!("roadrunner-demo: /sleep?ms={ms} started");
    req.sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms")
}

fn query<T: std::str::FromStr>(req: &Request, name: &str) -> Option<T> {
    req.uri()
        .query()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
}

async fn echo(req: Request) -> Response {
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let mut resp = Response::new(req.into_body());
    if let Some(ct) = content_type {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp
}

async fn info(req: Request) -> Response {
    let Some(listener) = req.listener_name().and_then(ListenerRef::lookup) else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "listener is stopping");
    };
    let mut resp = Response::new(info_json(&listener.info()).into());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn info_json(i: &Info) -> String {
    let mcr = i
        .max_concurrent_requests
        .map_or("\"infinity\"".to_owned(), |n| n.to_string());
    format!(
        "{{\"active_clients\":{},\"max_clients\":{},\"requests_served\":{},\"rejected\":{},\"max_concurrent_requests\":{},\"throttled\":{}}}",
        i.active_clients, i.max_clients, i.requests_served, i.rejected, mcr, i.throttled
    )
}

/// `/ws`: echoes text and binary messages (permessage-deflate offered, the listener's
/// caps) until the client closes; a drain closes it with 1001.
async fn echo_ws(_req: Request, mut ws: WebSocket) {
    while let Some(event) = ws.next().await {
        let reply = match event {
            WsEvent::Text(text) => Message::Text(text),
            WsEvent::Binary(data) => Message::Binary(data),
            _ => continue,
        };
        if ws.send(reply).await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_json_has_the_spec_s_field_names() {
        let json = info_json(&Info {
            active_clients: 1,
            max_clients: 150,
            requests_served: 7,
            rejected: 2,
            max_concurrent_requests: None,
            throttled: 0,
        });
        assert_eq!(
            json,
            "{\"active_clients\":1,\"max_clients\":150,\"requests_served\":7,\"rejected\":2,\"max_concurrent_requests\":\"infinity\",\"throttled\":0}"
        );
    }
}
