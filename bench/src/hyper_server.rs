//! The baselines: hyper 1.x servers, HTTP/1.1 or HTTP/2.
//!
//! They run on a tokio *current-thread* runtime because the harness pins them
//! to a single core; a multi-threaded runtime would only add cross-thread
//! wakeups. HTTP/1.1 connections use `http1::Builder` defaults with keep-alive
//! on, as a plain hello world does; `--pipeline-flush` adds
//! `pipeline_flush(true)`, which lets hyper batch the responses to pipelined
//! requests into one write instead of flushing after every response. HTTP/2
//! (`--http2`) serves prior-knowledge h2c with `http2::Builder` defaults (200
//! concurrent streams, 1 MiB windows), spawning each stream's handler on the
//! same runtime through `TokioExecutor`. No timer is configured, so hyper's
//! header-read timeout and HTTP/2 keep-alive pings are off, as in hyper's own
//! hello-world example.

use std::convert::Infallible;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};

/// The body every benchmarked server returns for `GET /`.
pub const BODY: &[u8] = b"Hello, world!";

/// Which protocol the baseline speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1 {
        pipeline_flush: bool,
    },
    /// Prior-knowledge h2c.
    Http2,
}

/// Answers every request with `200 text/plain "Hello, world!"`.
async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(hello_response())
}

fn hello_response() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(BODY)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

/// The HTTP/2 baseline's routes, as the demo has them: `/` as [`hello`], and
/// `/big?bytes=N` (default 1 MiB) streamed like the demo's `/big`. The
/// HTTP/1.1 baseline keeps plain [`hello`], so its figures stay comparable
/// with earlier runs.
async fn routes(req: Request<Incoming>) -> Result<Response<Either<Full<Bytes>, Big>>, Infallible> {
    Ok(match req.uri().path() {
        "/" => hello_response().map(Either::Left),
        "/big" => {
            let left = req
                .uri()
                .query()
                .into_iter()
                .flat_map(|q| q.split('&'))
                .find_map(|kv| kv.strip_prefix("bytes="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1 << 20);
            // One fresh piece per response, as the demo's handler allocates, so
            // both servers do the same handler work.
            let piece = Bytes::from(vec![b'x'; Big::PIECE as usize]);
            let mut resp = Response::new(Either::Right(Big { left, piece }));
            resp.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            resp
        }
        _ => {
            let mut resp = Response::new(Either::Left(Full::new(Bytes::new())));
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    })
}

/// A body of `left` bytes of `x` handed out in 16 KiB slices of one piece,
/// like the demo's `/big` stream. It reports neither its length nor its end
/// ahead of time, as a stream cannot: the server learns the end by polling.
pub struct Big {
    left: u64,
    piece: Bytes,
}

impl Big {
    const PIECE: u64 = 16 * 1024;
}

impl Body for Big {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let n = this.left.min(Self::PIECE);
        this.left -= n;
        Poll::Ready(Some(Ok(Frame::data(this.piece.slice(..n as usize)))))
    }
}

/// Serves forever on `127.0.0.1:port` (0 picks a free port). Prints
/// `listening on http://127.0.0.1:PORT` as the first stdout line once the
/// listener is bound, which is the harness's readiness signal.
pub fn run(port: u16, protocol: Protocol) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build tokio runtime: {e}"))?;
    rt.block_on(serve(port, protocol))
}

async fn serve(port: u16, protocol: Protocol) -> Result<(), String> {
    let listener = bind(port).await?;
    match protocol {
        Protocol::Http1 { pipeline_flush } => {
            let mut builder = http1::Builder::new();
            builder.keep_alive(true).pipeline_flush(pipeline_flush);
            accept_loop(listener, |stream| {
                let conn = builder.serve_connection(TokioIo::new(stream), service_fn(hello));
                tokio::spawn(async move {
                    // Errors here are peers going away mid-request; nothing to do.
                    let _ = conn.await;
                });
            })
            .await
        }
        Protocol::Http2 => {
            let builder = http2::Builder::new(TokioExecutor::new());
            accept_loop(listener, |stream| {
                let conn = builder.serve_connection(TokioIo::new(stream), service_fn(routes));
                tokio::spawn(async move {
                    // As above: peers going away.
                    let _ = conn.await;
                });
            })
            .await
        }
    }
}

/// Binds `127.0.0.1:port` (0 picks a free port) and prints `listening on
/// http://127.0.0.1:PORT` as the first stdout line, the harness's readiness signal.
pub async fn bind(port: u16) -> Result<TcpListener, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot bind {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{local}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    Ok(listener)
}

/// Accepts connections forever, handing each to `serve` with `TCP_NODELAY` set.
pub async fn accept_loop(listener: TcpListener, mut serve: impl FnMut(TcpStream)) -> ! {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                serve(stream);
            }
            // Transient errors (e.g. EMFILE) must not kill the server.
            Err(e) => eprintln!("roadrunner-bench: accept failed: {e}"),
        }
    }
}
