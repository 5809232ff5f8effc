//! The baseline: a hyper 1.x hello-world server.
//!
//! It runs on a tokio *current-thread* runtime because the harness pins it to
//! a single core; a multi-threaded runtime would only add cross-thread wakeups.
//! Connections use `http1::Builder` defaults with keep-alive on, as a plain
//! hello world does; `--pipeline-flush` adds `pipeline_flush(true)`, which lets
//! hyper batch the responses to pipelined requests into one write instead of
//! flushing after every response. No timer is configured, so hyper's
//! header-read timeout is off, as in hyper's own hello-world example.

use std::convert::Infallible;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The body every benchmarked server returns.
pub const BODY: &[u8] = b"Hello, world!";

/// Answers every request with `200 text/plain "Hello, world!"`.
async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::from_static(BODY)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(resp)
}

/// Serves forever on `127.0.0.1:port` (0 picks a free port). Prints
/// `listening on http://127.0.0.1:PORT` as the first stdout line once the
/// listener is bound, which is the harness's readiness signal.
pub fn run(port: u16, pipeline_flush: bool) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build tokio runtime: {e}"))?;
    rt.block_on(serve(port, pipeline_flush))
}

async fn serve(port: u16, pipeline_flush: bool) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot bind {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{local}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }

    let mut builder = http1::Builder::new();
    builder.keep_alive(true).pipeline_flush(pipeline_flush);

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Transient errors (e.g. EMFILE) must not kill the server.
                eprintln!("hyper-server: accept failed: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = builder.serve_connection(TokioIo::new(stream), service_fn(hello));
        tokio::spawn(async move {
            // Errors here are peers going away mid-request; nothing to do.
            let _ = conn.await;
        });
    }
}
