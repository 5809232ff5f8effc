//! WebSocket handlers: a route answers the opening handshake and then runs a session
//! that receives messages, sends them, and closes, on HTTP/1.1 (`Upgrade: websocket`,
//! RFC 6455) and on HTTP/2 (extended CONNECT, RFC 8441) with the same code.
//!
//! Like a loop handler, a session also gets the listener's drain notice (with its
//! deadline) and messages from other tasks through its [`Mailbox`]. Pings are
//! answered without the handler's help. The framing, the caps (`ws.max_frame_size`,
//! `ws.max_message_size`) and permessage-deflate are the `roadrunner-ws` codec's.
//!
//! ```
//! use roadrunner_core::websocket::{websocket, Message, WebSocket, WsConfig, WsEvent};
//! use roadrunner_core::{Request, Route};
//!
//! /// Echoes text and binary messages until the client closes.
//! let route = Route::get(
//!     "/ws",
//!     websocket(WsConfig::default(), |_req: Request, mut ws: WebSocket| async move {
//!         while let Some(event) = ws.next().await {
//!             let reply = match event {
//!                 WsEvent::Text(text) => Message::Text(text),
//!                 WsEvent::Binary(data) => Message::Binary(data),
//!                 _ => continue,
//!             };
//!             if ws.send(reply).await.is_err() {
//!                 break;
//!             }
//!         }
//!     }),
//! );
//! # let _ = route;
//! ```
//!
//! # Defaults
//!
//! [`WsConfig::default`]: no subprotocol, permessage-deflate agreed when the client
//! offers it, a session idle (nothing received) for 60 s is closed with 1001, the
//! closing handshake waits 5 s for the client's close frame, and [`WebSocket::send`]
//! waits while more than 1 MiB is queued for a client that does not read.

mod session;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use roadrunner_ws::{check_extended_connect, check_upgrade, AcceptOptions, Session};

use crate::handler::Handler;
use crate::request::{Request, RequestExt, Response};
use crate::upgrade::{on_upgrade, ConnectProtocol};

pub use crate::loop_handler::Mailbox;
pub use roadrunner_ws::CloseCode;
pub use session::{WebSocket, WsClosed, WsEvent};

/// A message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_owned())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Message::Binary(data)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::Binary(data.into())
    }
}

/// How a WebSocket endpoint answers and runs its sessions (see the module docs for
/// the defaults).
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// Subprotocols spoken, most preferred first; the first the client offers is
    /// chosen ([`WebSocket::protocol`]).
    pub protocols: Vec<String>,
    /// Agree to permessage-deflate (RFC 7692) when the client offers it.
    pub compression: bool,
    /// A session that receives nothing for this long is closed with 1001.
    pub idle_timeout: Option<Duration>,
    /// How long a closing handshake waits for the client's close frame.
    pub close_timeout: Duration,
    /// [`WebSocket::send`] waits while more than this many bytes are queued.
    pub max_buffered: usize,
    /// Hand pings and pongs to the handler too (they are answered either way).
    pub pings: bool,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            protocols: Vec::new(),
            compression: true,
            idle_timeout: Some(Duration::from_secs(60)),
            close_timeout: Duration::from_secs(5),
            max_buffered: 1 << 20,
            pings: false,
        }
    }
}

/// A handler that answers the WebSocket opening handshake and runs `session` with
/// the request and its [`WebSocket`]. A request that is not a valid handshake is
/// answered `400`, or `426` with `Sec-WebSocket-Version: 13` (RFC 6455 §4.4).
/// `M` is the type of the messages other tasks send the session ([`WebSocket::mailbox`]).
pub fn websocket<M, F, Fut>(config: WsConfig, session: F) -> impl Handler
where
    M: Send + 'static,
    F: Fn(Request, WebSocket<M>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let config = Arc::new(config);
    let session = Arc::new(session);
    move |req: Request| {
        let (config, session) = (config.clone(), session.clone());
        async move { accept(req, config, move |req, ws| session(req, ws)) }
    }
}

/// Answers `req`'s opening handshake and, once the answer is out, runs `session`;
/// for a handler that decides itself whether to accept (authentication, say).
pub fn accept<M, F, Fut>(req: Request, config: Arc<WsConfig>, session: F) -> Response
where
    M: Send + 'static,
    F: FnOnce(Request, WebSocket<M>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handshake = match req.extensions().get::<ConnectProtocol>() {
        Some(ConnectProtocol(protocol)) => check_extended_connect(
            req.method(),
            std::str::from_utf8(protocol).ok(),
            req.headers(),
        ),
        None => check_upgrade(req.method(), req.version(), req.headers()),
    };
    let handshake = match handshake {
        Ok(handshake) => handshake,
        Err(e) => {
            let mut resp = crate::handler::text(e.status(), e.to_string());
            resp.headers_mut().extend(e.headers());
            return resp;
        }
    };
    let protocols: Vec<&str> = config.protocols.iter().map(String::as_str).collect();
    let accepted = handshake.accept(&AcceptOptions {
        protocols: &protocols,
        deflate: config.compression,
    });
    let mut resp = Response::default();
    *resp.status_mut() = accepted.status;
    resp.headers_mut().extend(accepted.headers);
    let caps = req.listener().map(|l| l.ws_config()).unwrap_or_default();
    let codec = Session::new(caps, accepted.deflate);
    let protocol = accepted.protocol;
    on_upgrade(&mut resp, move |up| {
        let listener = req.listener().cloned();
        let ws = WebSocket::new(up, codec, config, listener, protocol);
        session(req, ws)
    });
    resp
}

/// Whether `req` asks for a WebSocket (an upgrade, or an extended CONNECT), for a
/// handler that serves a page and its WebSocket on one route.
pub fn is_websocket(req: &Request) -> bool {
    req.extensions().get::<ConnectProtocol>().is_some()
        || req
            .headers()
            .get(http::header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
            })
}
