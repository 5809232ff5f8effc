//! The WebSocket baselines: echo servers on tokio-tungstenite and on
//! fastwebsockets.
//!
//! Like the hyper baselines they run on a tokio *current-thread* runtime, since
//! the harness pins them to one core, and set `TCP_NODELAY` on every connection.
//! Both echo text and binary messages back as they came and answer pings and
//! closes as their libraries do by default; neither implements
//! permessage-deflate, which the load client does not offer anyway.
//!
//! - **tungstenite**: `tokio_tungstenite::accept_async` on the accepted TCP
//!   stream, then `next()` / `send()` on the one stream, the plain echo loop of
//!   its documentation (no `split()`, which would put a lock between the halves);
//! - **fastwebsockets**: its own `echo_server` example: the handshake on a hyper 1
//!   `http1` connection (`upgrade::upgrade`, `with_upgrades()`), then
//!   `FragmentCollector` `read_frame()` / `write_frame()` in a task spawned
//!   `unconstrained`, with its defaults (automatic pongs and closes, writev above
//!   1 KiB).

use std::convert::Infallible;

use bytes::Bytes;
use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::hyper_server::{accept_loop, bind};

/// Which library the echo server is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsImpl {
    Tungstenite,
    Fastwebsockets,
    /// The floor ([`crate::ws_floor`]): no library, no runtime.
    Floor,
}

impl WsImpl {
    pub const ALL: [WsImpl; 3] = [WsImpl::Tungstenite, WsImpl::Fastwebsockets, WsImpl::Floor];

    pub fn name(self) -> &'static str {
        match self {
            WsImpl::Tungstenite => "tungstenite",
            WsImpl::Fastwebsockets => "fastwebsockets",
            WsImpl::Floor => "floor",
        }
    }
}

/// Serves the echo forever on `127.0.0.1:port` (0 picks a free port), on any
/// path, printing the `listening on` line first as the hyper baseline does.
pub fn run(port: u16, imp: WsImpl) -> Result<(), String> {
    if imp == WsImpl::Floor {
        return crate::ws_floor::run(port);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build tokio runtime: {e}"))?;
    rt.block_on(async {
        let listener = bind(port).await?;
        match imp {
            WsImpl::Tungstenite => {
                accept_loop(listener, |stream| {
                    tokio::spawn(tungstenite_echo(stream));
                })
                .await
            }
            WsImpl::Fastwebsockets => {
                accept_loop(listener, |stream| {
                    let conn = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(fastwebsockets_upgrade))
                        .with_upgrades();
                    tokio::spawn(async move {
                        // Errors here are peers going away mid-request; nothing to do.
                        let _ = conn.await;
                    });
                })
                .await
            }
            WsImpl::Floor => unreachable!("served above, without a runtime"),
        }
    })
}

async fn tungstenite_echo(stream: TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    // An error ends the session: at the end of a run that is the client going away.
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            break;
        }
    }
}

async fn fastwebsockets_upgrade(
    mut req: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    match upgrade::upgrade(&mut req) {
        Ok((response, fut)) => {
            tokio::spawn(async move {
                // As above: an error is the client going away.
                let _ = tokio::task::unconstrained(fastwebsockets_echo(fut)).await;
            });
            Ok(response)
        }
        Err(_) => {
            let mut resp = Response::new(Empty::new());
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            Ok(resp)
        }
    }
}

async fn fastwebsockets_echo(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}
